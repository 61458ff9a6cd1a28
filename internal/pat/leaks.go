package pat

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/alternatefutures/patd/db"
	"github.com/alternatefutures/patd/internal/token"
)

// Actors of leak revocations: the scanner that reported the leak.
const (
	ActorGitHubScanning = "github-secret-scanning"
	ActorGitLabScanning = "gitlab-secret-detection"
)

// ErrReplayed refuses a leak report whose exact body was already acted on.
var ErrReplayed = errors.New("this report was already received")

// leakReportMemory is how long the digest of a report that revoked something
// is kept to refuse the same body again. After that a replay is harmless
// anyway: everything it names is already revoked, a false positive.
const leakReportMemory = 24 * time.Hour

// Leak is one secret a scanner reports having found in public.
type Leak struct {
	Token string
	// Type is the scanner's name for the kind of secret.
	Type string
	// URL is where it was found, Source what kind of place that is
	// (GitHub: content, commit, pull_request_comment, …).
	URL    string
	Source string
}

// LeakResult answers the Leak at the same index: the SHA-256 of the
// reported string, and whether it was a live token of patd's, now revoked.
type LeakResult struct {
	Hash    [32]byte
	Revoked bool
}

// RevokeLeaked revokes every reported token that patd issued and still
// stores, in one transaction with an audit row each (action leaked, detail
// url and source) and a notice to every replica. Only the checksummed form is
// looked up: anything else (legacy tokens included) is a false positive, as
// is a token already revoked, and they cost no write. digest, when not nil,
// identifies the report: a report that revoked something cannot be replayed
// (ErrReplayed), and a report is checked for that before anything else.
func (s *Service) RevokeLeaked(ctx context.Context, actor string, leaks []Leak, digest []byte) ([]LeakResult, error) {
	results := make([]LeakResult, len(leaks))
	var candidates [][]byte
	seen := map[[32]byte]bool{}
	for i, l := range leaks {
		results[i].Hash = token.Hash(l.Token)
		if token.Classify(l.Token) == token.Checksummed && !seen[results[i].Hash] {
			seen[results[i].Hash] = true
			h := results[i].Hash
			candidates = append(candidates, h[:])
		}
	}
	if digest != nil {
		replayed, err := s.q.LeakReportSeen(ctx, digest)
		if err != nil {
			return nil, err
		}
		if replayed {
			return nil, ErrReplayed
		}
	}
	if len(candidates) == 0 {
		return results, nil
	}
	stored, err := s.q.StoredTokenHashes(ctx, candidates)
	if err != nil || len(stored) == 0 {
		return results, err
	}
	now := time.Now()
	revoked := map[[32]byte]bool{}
	err = s.revokingTx(ctx, func(q txQueries) ([][]byte, error) {
		if digest != nil {
			if err := q.ForgetLeakReports(ctx, now.Add(-leakReportMemory)); err != nil {
				return nil, err
			}
			n, err := q.RecordLeakReport(ctx, db.RecordLeakReportParams{Digest: digest, Now: now})
			if err != nil {
				return nil, err
			}
			if n == 0 {
				return nil, ErrReplayed // the same body, racing this one
			}
		}
		rows, err := q.DeleteTokensByHash(ctx, stored)
		if err != nil || len(rows) == 0 {
			return nil, err
		}
		for _, r := range rows {
			revoked[[32]byte(r.TokenHash)] = true
		}
		return s.auditLeaks(ctx, q, actor, rows, whereFound(leaks, results), now)
	})
	if err != nil {
		return nil, err
	}
	for i := range results {
		results[i].Revoked = revoked[results[i].Hash]
	}
	return results, nil
}

// auditLeaks records, for each token a report revoked, an audit event and a
// token.revoked event saying where it was found; it returns the hashes to
// forget on every replica.
func (s *Service) auditLeaks(ctx context.Context, q txQueries, actor string, rows []db.PersonalAccessToken, where map[[32]byte]map[string]any, now time.Time) ([][]byte, error) {
	n := len(rows)
	users, ids, details, extra := make([]string, n), make([]string, n), make([][]byte, n), make([]map[string]any, n)
	hashes := make([][]byte, n)
	for i, r := range rows {
		users[i], ids[i], hashes[i] = r.UserID, r.ID, r.TokenHash
		extra[i] = where[[32]byte(r.TokenHash)]
		var err error
		if details[i], err = json.Marshal(extra[i]); err != nil {
			return nil, err
		}
	}
	if err := auditMany(ctx, q, ActionLeaked, actor, users, ids, details); err != nil {
		return nil, err
	}
	return hashes, s.emit(ctx, q, revokedEvents(rows, ReasonLeaked, now, extra)...)
}

// Bounds of what a report may make patd store about where a leak was found.
const (
	maxLeakURL    = 2048
	maxLeakSource = 64
	maxLeakType   = 128
)

// whereFound is, for each reported hash, where the report says the token was
// found (the first mention when it is reported twice), fit for storing.
func whereFound(leaks []Leak, results []LeakResult) map[[32]byte]map[string]any {
	out := map[[32]byte]map[string]any{}
	for i, l := range leaks {
		if _, ok := out[results[i].Hash]; !ok {
			out[results[i].Hash] = map[string]any{
				"url":    storable(l.URL, maxLeakURL),
				"source": storable(l.Source, maxLeakSource),
				"type":   storable(l.Type, maxLeakType),
			}
		}
	}
	return out
}

// storable is s as valid UTF-8 without NUL (which jsonb refuses), cut to at
// most n bytes on a character boundary: what a reporter sends must never make
// the revocation fail.
func storable(s string, n int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
