// Package secretscan checks the signatures of GitHub's secret scanning
// partner reports: each report is signed with an ECDSA P-256 key that GitHub
// publishes, and names the key it used.
package secretscan

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// Reasons a report is refused; all wrap ErrBadSignature except
// ErrKeysUnavailable, which says nothing about the report.
var (
	ErrBadSignature = errors.New("report signature refused")
	ErrUnsigned     = fmt.Errorf("%w: the key id or signature header is missing", ErrBadSignature)
	ErrUnknownKey   = fmt.Errorf("%w: signed with a key GitHub does not publish", ErrBadSignature)
	ErrStaleKey     = fmt.Errorf("%w: signed with a key GitHub no longer signs with", ErrBadSignature)
	ErrMismatch     = fmt.Errorf("%w: the signature does not match the body", ErrBadSignature)
	// ErrKeysUnavailable means GitHub's keys could not be fetched: GitHub
	// is told to retry (503) rather than that its report is bad.
	ErrKeysUnavailable = errors.New("GitHub's secret scanning keys could not be fetched")
)

// Headers of a signed report.
const (
	HeaderKeyID     = "Github-Public-Key-Identifier"
	HeaderSignature = "Github-Public-Key-Signature"
)

// keysMaxAge is how long a fetched key list is trusted: GitHub retiring a
// key (is_current false) is noticed within this time.
const keysMaxAge = time.Hour

type key struct {
	pub     *ecdsa.PublicKey
	current bool
}

// GitHubKeys verifies reports with GitHub's published keys, fetched on first
// use, again when older than an hour, and again when a report names a key id
// not in the list, but never more often than once per minRefetch: key ids
// made up by anyone cannot make patd hammer GitHub.
type GitHubKeys struct {
	url        string
	client     *http.Client
	minRefetch time.Duration

	mu        sync.Mutex // held across a fetch: concurrent reports wait for one fetch
	keys      map[string]key
	fetchedAt time.Time // of the keys in use
	triedAt   time.Time // of the last fetch, successful or not
}

// NewGitHubKeys returns a verifier fetching keys from url.
func NewGitHubKeys(url string, minRefetch time.Duration) *GitHubKeys {
	return &GitHubKeys{url: url, client: &http.Client{}, minRefetch: minRefetch}
}

// Verify checks that body was signed by the current GitHub key keyID, with
// sigB64 the base64 of an ASN.1 ECDSA signature over SHA-256 of body.
//
// A key GitHub lists but no longer marks current is refused (ErrStaleKey):
// GitHub signs with its current key, so a report signed with a retired one
// is either a replay from before the rotation or made with a key that may
// have been retired for a reason. A key rotation on GitHub's side may make
// a report in flight fail once; GitHub retries failed deliveries.
func (g *GitHubKeys) Verify(ctx context.Context, keyID, sigB64 string, body []byte) error {
	if keyID == "" || sigB64 == "" {
		return ErrUnsigned
	}
	sig, err := base64.StdEncoding.DecodeString(sigB64)
	if err != nil {
		return ErrMismatch
	}
	k, err := g.key(ctx, keyID)
	if err != nil {
		return err
	}
	if !k.current {
		return ErrStaleKey
	}
	digest := sha256.Sum256(body)
	if !ecdsa.VerifyASN1(k.pub, digest[:], sig) {
		return ErrMismatch
	}
	return nil
}

// key finds keyID, fetching the list when it is missing, old, or does not
// have keyID and the last fetch is at least minRefetch ago.
func (g *GitHubKeys) key(ctx context.Context, keyID string) (key, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	k, ok := g.keys[keyID]
	stale := g.keys == nil || time.Since(g.fetchedAt) > keysMaxAge
	if (ok && !stale) || time.Since(g.triedAt) < g.minRefetch && g.keys != nil {
		if !ok {
			return key{}, ErrUnknownKey
		}
		return k, nil
	}
	if err := g.fetch(ctx); err != nil {
		if !ok {
			return key{}, fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
		}
		return k, nil // an old list still knows this key: better than nothing
	}
	if k, ok = g.keys[keyID]; !ok {
		return key{}, ErrUnknownKey
	}
	return k, nil
}

// fetch replaces the key list; the caller holds g.mu.
func (g *GitHubKeys) fetch(ctx context.Context) error {
	g.triedAt = time.Now()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := g.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("keys endpoint answered %d", resp.StatusCode)
	}
	var doc struct {
		PublicKeys []struct {
			KeyIdentifier string `json:"key_identifier"`
			Key           string `json:"key"`
			IsCurrent     bool   `json:"is_current"`
		} `json:"public_keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&doc); err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	keys := map[string]key{}
	for _, pk := range doc.PublicKeys {
		pub, err := parseKey(pk.Key)
		if err != nil {
			continue // one key GitHub publishes in a form patd cannot read must not hide the others
		}
		keys[pk.KeyIdentifier] = key{pub: pub, current: pk.IsCurrent}
	}
	if len(keys) == 0 {
		return errors.New("keys endpoint listed no P-256 key")
	}
	g.keys, g.fetchedAt = keys, time.Now()
	return nil
}

func parseKey(p string) (*ecdsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(p))
	if block == nil {
		return nil, errors.New("not PEM")
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	ek, ok := k.(*ecdsa.PublicKey)
	if !ok || ek.Curve.Params().Name != "P-256" {
		return nil, errors.New("not an ECDSA P-256 key")
	}
	return ek, nil
}
