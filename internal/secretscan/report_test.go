package secretscan_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/alternatefutures/patd/internal/config"
	"github.com/alternatefutures/patd/internal/pattest"
	"github.com/alternatefutures/patd/internal/token"
)

// githubStandIn plays GitHub: it holds signing keys and serves their public
// halves as GitHub's key endpoint does.
type githubStandIn struct {
	current, stale *ecdsa.PrivateKey
	fetches        atomic.Int32
	srv            *httptest.Server
}

const (
	currentKeyID = "c0ffee01"
	staleKeyID   = "c0ffee00"
	tokenType    = "alternatefutures_personal_access_token"
)

func newGitHub(t *testing.T) *githubStandIn {
	t.Helper()
	g := &githubStandIn{current: newKey(t), stale: newKey(t)}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		g.fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"public_keys": []map[string]any{
			{"key_identifier": staleKeyID, "key": pemOf(t, g.stale), "is_current": false},
			{"key_identifier": currentKeyID, "key": pemOf(t, g.current), "is_current": true},
		}})
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pemOf(t *testing.T, k *ecdsa.PrivateKey) string {
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func sign(t *testing.T, k *ecdsa.PrivateKey, body []byte) string {
	d := sha256.Sum256(body)
	sig, err := ecdsa.SignASN1(rand.Reader, k, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

type leak struct {
	Token  string `json:"token"`
	Type   string `json:"type"`
	URL    string `json:"url"`
	Source string `json:"source"`
}

func report(tokens ...string) []byte {
	ls := make([]leak, len(tokens))
	for i, tok := range tokens {
		ls[i] = leak{Token: tok, Type: tokenType, URL: fmt.Sprintf("https://github.com/octo/repo/blob/abc/leak%d.env", i), Source: "content"}
	}
	b, _ := json.Marshal(ls)
	return b
}

type feedback struct {
	TokenHash string `json:"token_hash"`
	TokenType string `json:"token_type"`
	Label     string `json:"label"`
}

func post(t *testing.T, r *pattest.Replica, body []byte, keyID, sig string) pattest.Response {
	t.Helper()
	return r.Do(http.MethodPost, "/secret-scanning/github", body,
		"Github-Public-Key-Identifier: "+keyID, "Github-Public-Key-Signature: "+sig)
}

func replicaConfig(t *testing.T, g *githubStandIn) *config.Config {
	cfg := pattest.Config(t)
	cfg.Events.GitHubKeysURL = g.srv.URL
	return cfg
}

func validateStatus(t *testing.T, r *pattest.Replica, tok string) int {
	t.Helper()
	return r.Do(http.MethodPost, "/validate", map[string]string{"token": tok}, "Authorization: Bearer "+pattest.ServiceSecret).Status
}

func connect(t *testing.T, cfg *config.Config) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// counts is what a refused report must not change.
type counts struct{ tokens, audits, reports int }

func count(t *testing.T, c *pgx.Conn) counts {
	t.Helper()
	var n counts
	err := c.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM personal_access_tokens),
		(SELECT count(*) FROM pat_audit_events), (SELECT count(*) FROM leak_reports)`).Scan(&n.tokens, &n.audits, &n.reports)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func hashHex(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

func TestReportRevokesOnEveryReplicaWithinASecond(t *testing.T) {
	g := newGitHub(t)
	cfg := replicaConfig(t, g)
	a, b := pattest.Start(t, cfg), pattest.Start(t, cfg)
	id, leaked := a.CreateToken(t, "alice", "ci", nil)
	_, kept := a.CreateToken(t, "alice", "ci", nil)
	// B caches both answers, so only the revocation notice can change them.
	for _, tok := range []string{leaked, kept} {
		if s := validateStatus(t, b, tok); s != http.StatusOK {
			t.Fatalf("validate before the report: %d", s)
		}
	}
	unknown, err := token.New(token.PrefixLive)
	if err != nil {
		t.Fatal(err)
	}
	body := report(leaked, unknown, "af_live_notachecksummedtoken0123456789ab", leaked)
	start := time.Now()
	resp := post(t, a, body, currentKeyID, sign(t, g.current, body))
	if resp.Status != http.StatusOK {
		t.Fatalf("report: %s", resp)
	}
	pattest.Eventually(t, time.Second, func() (bool, string) {
		s := validateStatus(t, b, leaked)
		return s == http.StatusUnauthorized, fmt.Sprintf("replica B still answers %d for the leaked token", s)
	})
	t.Logf("leak report to refusal on both replicas: %s", time.Since(start))
	if s := validateStatus(t, a, leaked); s != http.StatusUnauthorized {
		t.Errorf("replica A answers %d for the leaked token", s)
	}
	if s := validateStatus(t, b, kept); s != http.StatusOK {
		t.Errorf("a token not reported answers %d", s)
	}

	var fb []feedback
	resp.JSON(t, &fb)
	want := []feedback{
		{hashHex(leaked), tokenType, "true_positive"},
		{hashHex(unknown), tokenType, "false_positive"},
		{hashHex("af_live_notachecksummedtoken0123456789ab"), tokenType, "false_positive"},
		{hashHex(leaked), tokenType, "true_positive"}, // reported twice, revoked once
	}
	if fmt.Sprint(fb) != fmt.Sprint(want) {
		t.Errorf("feedback\n got %v\nwant %v", fb, want)
	}

	c := connect(t, cfg)
	var actor, url, source string
	var n int
	err = c.QueryRow(context.Background(), `SELECT count(*) OVER (), actor_id, detail->>'url', detail->>'source'
		FROM pat_audit_events WHERE action = 'leaked' AND token_id = $1`, id).Scan(&n, &actor, &url, &source)
	if err != nil {
		t.Fatalf("audit row of the leak: %v", err)
	}
	if n != 1 || actor != "github-secret-scanning" || url != "https://github.com/octo/repo/blob/abc/leak0.env" || source != "content" {
		t.Errorf("audit: %d rows, actor %q, url %q, source %q", n, actor, url, source)
	}
}

func TestFalsePositivesCostNoWrite(t *testing.T) {
	g := newGitHub(t)
	cfg := replicaConfig(t, g)
	r := pattest.Start(t, cfg)
	c := connect(t, cfg)
	ctx := context.Background()

	// Already revoked: created, then deleted by its owner.
	revokedID, revoked := r.CreateToken(t, "bob", "ci", nil)
	if resp := r.Do(http.MethodDelete, "/api/tokens/"+revokedID, nil, "Authorization: Bearer "+r.JWT("bob")); resp.Status != http.StatusOK {
		t.Fatalf("delete: %s", resp)
	}
	// Legacy: imported from the old backend, stored, valid; not the
	// checksummed form, so not looked up.
	legacyTok := "af_live_" + strings.Repeat("L", 32)
	h := sha256.Sum256([]byte(legacyTok))
	if _, err := c.Exec(ctx, `INSERT INTO personal_access_tokens (id, user_id, name, token_hash, token_start)
		VALUES ('legacy-1', 'bob', 'old', $1, 'af_live_LLLL')`, h[:]); err != nil {
		t.Fatal(err)
	}
	// As an import records it, so that the replica looks it up at all.
	if _, err := c.Exec(ctx, `INSERT INTO pat_imported_hashes (token_hash) VALUES ($1)`, h[:]); err != nil {
		t.Fatal(err)
	}
	if err := r.Server.Validator.RefreshImported(ctx); err != nil {
		t.Fatal(err)
	}
	unknown, _ := token.New(token.PrefixLive)
	before := count(t, c)
	body := report(revoked, legacyTok, unknown, "", "not a token at all")
	resp := post(t, r, body, currentKeyID, sign(t, g.current, body))
	if resp.Status != http.StatusOK {
		t.Fatalf("report: %s", resp)
	}
	var fb []feedback
	resp.JSON(t, &fb)
	if len(fb) != 5 {
		t.Fatalf("feedback has %d entries: %s", len(fb), resp.Body)
	}
	for i, f := range fb {
		if f.Label != "false_positive" {
			t.Errorf("entry %d labelled %q", i, f.Label)
		}
	}
	if after := count(t, c); after != before {
		t.Errorf("a report of false positives wrote: before %+v, after %+v", before, after)
	}
	if s := validateStatus(t, r, legacyTok); s != http.StatusOK {
		t.Errorf("the legacy token answers %d after a report called it a false positive", s)
	}
}

func TestRefusedReportsWriteNothing(t *testing.T) {
	g := newGitHub(t)
	cfg := replicaConfig(t, g)
	r := pattest.Start(t, cfg)
	c := connect(t, cfg)
	_, tok := r.CreateToken(t, "carol", "ci", nil)
	body := report(tok)
	impostor := newKey(t)

	changed := append([]byte{}, body...)
	changed = []byte(strings.Replace(string(changed), "leak0.env", "leak1.env", 1))

	cases := []struct {
		name, keyID, sig string
		body             []byte
		status           int
	}{
		{"unsigned", "", "", body, http.StatusUnauthorized},
		{"no key id", "", sign(t, g.current, body), body, http.StatusUnauthorized},
		{"signed by another key", currentKeyID, sign(t, impostor, body), body, http.StatusUnauthorized},
		{"signature not base64", currentKeyID, "%%%", body, http.StatusUnauthorized},
		{"unknown key id", "deadbeef", sign(t, g.current, body), body, http.StatusUnauthorized},
		{"stale key", staleKeyID, sign(t, g.stale, body), body, http.StatusUnauthorized},
		{"body changed after signing", currentKeyID, sign(t, g.current, body), changed, http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := count(t, c)
			resp := post(t, r, tc.body, tc.keyID, tc.sig)
			if resp.Status != tc.status {
				t.Errorf("status %s, want %d", resp, tc.status)
			}
			var e struct{ Code string }
			resp.JSON(t, &e)
			if e.Code != "INVALID_SIGNATURE" {
				t.Errorf("code %q", e.Code)
			}
			if after := count(t, c); after != before {
				t.Errorf("refused report wrote: before %+v, after %+v", before, after)
			}
			if s := validateStatus(t, r, tok); s != http.StatusOK {
				t.Errorf("token answers %d after a refused report", s)
			}
		})
	}

	t.Run("replayed", func(t *testing.T) {
		sig := sign(t, g.current, body)
		if resp := post(t, r, body, currentKeyID, sig); resp.Status != http.StatusOK {
			t.Fatalf("first delivery: %s", resp)
		}
		before := count(t, c)
		resp := post(t, r, body, currentKeyID, sig)
		if resp.Status != http.StatusConflict {
			t.Errorf("replay: %s", resp)
		}
		if after := count(t, c); after != before {
			t.Errorf("replay wrote: before %+v, after %+v", before, after)
		}
	})

	t.Run("unknown key ids do not hammer the key endpoint", func(t *testing.T) {
		before := g.fetches.Load()
		for i := range 20 {
			post(t, r, body, fmt.Sprintf("made-up-%d", i), sign(t, g.current, body))
		}
		// The replica fetched at most once more (its refetch interval is a
		// minute): twenty made-up ids cost GitHub one request at most.
		if n := g.fetches.Load() - before; n > 1 {
			t.Errorf("%d key fetches for 20 reports with unknown key ids", n)
		}
	})
}

func TestUnknownKeyIsFetchedWhenGitHubRotates(t *testing.T) {
	g := newGitHub(t)
	cfg := replicaConfig(t, g)
	cfg.Events.GitHubKeysRefetch = 0 // no bound, so the new key is fetched at once
	r := pattest.Start(t, cfg)
	_, tok := r.CreateToken(t, "dave", "ci", nil)
	body := report(tok)
	// Keys fetched once, with the current key.
	if resp := post(t, r, report("x"), currentKeyID, sign(t, g.current, report("x"))); resp.Status != http.StatusOK {
		t.Fatalf("first report: %s", resp)
	}
	// GitHub starts signing with a key patd has not seen: patd fetches again.
	g.current = newKey(t)
	resp := post(t, r, body, currentKeyID+"-new", sign(t, g.current, body))
	if resp.Status != http.StatusUnauthorized {
		t.Fatalf("an id the endpoint does not list is still unknown: %s", resp)
	}
	if n := g.fetches.Load(); n != 2 {
		t.Errorf("%d fetches, want 2", n)
	}
	resp = post(t, r, body, currentKeyID, sign(t, g.current, body))
	if resp.Status != http.StatusOK {
		t.Fatalf("report signed with the rotated key: %s", resp)
	}
}

func TestReportOfAThousandTokens(t *testing.T) {
	g := newGitHub(t)
	cfg := replicaConfig(t, g)
	r := pattest.Start(t, cfg)
	c := connect(t, cfg)
	ctx := context.Background()
	const n = 1000
	toks := make([]string, n)
	rows := make([][]any, n)
	for i := range toks {
		tok, err := token.New(token.PrefixLive)
		if err != nil {
			t.Fatal(err)
		}
		h := token.Hash(tok)
		toks[i] = tok
		rows[i] = []any{uuid.NewString(), fmt.Sprintf("user-%d", i%7), "bulk", h[:], token.Start(tok)}
	}
	if _, err := c.CopyFrom(ctx, pgx.Identifier{"personal_access_tokens"},
		[]string{"id", "user_id", "name", "token_hash", "token_start"}, pgx.CopyFromRows(rows)); err != nil {
		t.Fatal(err)
	}
	body := report(toks...)
	t.Logf("a report of %d tokens is %d bytes", n, len(body))
	start := time.Now()
	resp := post(t, r, body, currentKeyID, sign(t, g.current, body))
	if resp.Status != http.StatusOK {
		t.Fatalf("report: %s", resp)
	}
	t.Logf("%d leaked tokens revoked in %s", n, time.Since(start))
	var fb []feedback
	resp.JSON(t, &fb)
	for i, f := range fb {
		if f.Label != "true_positive" || f.TokenHash != hashHex(toks[i]) {
			t.Fatalf("entry %d: %+v", i, f)
		}
	}
	var left, audited int
	if err := c.QueryRow(ctx, `SELECT (SELECT count(*) FROM personal_access_tokens),
		(SELECT count(*) FROM pat_audit_events WHERE action = 'leaked')`).Scan(&left, &audited); err != nil {
		t.Fatal(err)
	}
	if left != 0 || audited != n || len(fb) != n {
		t.Errorf("%d tokens left, %d leaked audit rows, %d feedback entries", left, audited, len(fb))
	}
}

func TestGitLabRevocationAPI(t *testing.T) {
	g := newGitHub(t)
	cfg := replicaConfig(t, g)
	off := pattest.Start(t, cfg)
	if resp := off.Do(http.MethodGet, "/v1/revocable_token_types", nil, "Authorization: Bearer x"); resp.Status != http.StatusNotFound ||
		!strings.Contains(string(resp.Body), "NOT_FOUND") {
		t.Errorf("without GITLAB_REVOCATION_TOKEN: %s", resp)
	}

	cfg2 := *cfg
	cfg2.Events.GitLabToken = "gitlab-shared-secret"
	r := pattest.Start(t, &cfg2)
	bearer := "Authorization: Bearer gitlab-shared-secret"
	resp := r.Do(http.MethodGet, "/v1/revocable_token_types", nil, bearer)
	var types struct{ Types []string }
	resp.JSON(t, &types)
	if resp.Status != http.StatusOK || len(types.Types) != 1 || types.Types[0] != "gitleaks_rule_id_alternatefutures_personal_access_token" {
		t.Fatalf("types: %s", resp)
	}

	id, tok := r.CreateToken(t, "erin", "ci", nil)
	c := connect(t, &cfg2)
	for _, h := range []string{"", "Authorization: Bearer wrong"} {
		before := count(t, c)
		body := []map[string]string{{"type": types.Types[0], "token": tok}}
		if resp := r.Do(http.MethodPost, "/v1/revoke_tokens", body, h); resp.Status != http.StatusUnauthorized {
			t.Errorf("bearer %q: %s", h, resp)
		}
		if after := count(t, c); after != before {
			t.Errorf("unauthenticated revoke wrote: %+v → %+v", before, after)
		}
	}
	if resp := r.Do(http.MethodPost, "/v1/revoke_tokens", []map[string]string{{"type": "aws_secret", "token": tok}}, bearer); resp.Status != http.StatusBadRequest {
		t.Errorf("unsupported type: %s", resp)
	}
	if s := validateStatus(t, r, tok); s != http.StatusOK {
		t.Fatalf("token answers %d before GitLab's report", s)
	}
	body := []map[string]string{{"type": types.Types[0], "token": tok, "location": "https://gitlab.example.com/g/p/-/blob/main/.env"}}
	if resp := r.Do(http.MethodPost, "/v1/revoke_tokens", body, bearer); resp.Status != http.StatusNoContent {
		t.Fatalf("revoke: %s", resp)
	}
	if s := validateStatus(t, r, tok); s != http.StatusUnauthorized {
		t.Errorf("token answers %d after GitLab's report", s)
	}
	var url, source string
	if err := c.QueryRow(context.Background(), `SELECT detail->>'url', detail->>'source' FROM pat_audit_events
		WHERE action = 'leaked' AND token_id = $1 AND actor_id = 'gitlab-secret-detection'`, id).Scan(&url, &source); err != nil {
		t.Fatalf("audit: %v", err)
	}
	if url != "https://gitlab.example.com/g/p/-/blob/main/.env" || source != "gitlab" {
		t.Errorf("audit detail: %q %q", url, source)
	}
	// Idempotent: the same report again is accepted and changes nothing.
	before := count(t, c)
	if resp := r.Do(http.MethodPost, "/v1/revoke_tokens", body, bearer); resp.Status != http.StatusNoContent {
		t.Errorf("second revoke: %s", resp)
	}
	if after := count(t, c); after != before {
		t.Errorf("second revoke wrote: %+v → %+v", before, after)
	}
}
