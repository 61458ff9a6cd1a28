package webhooks_test

import (
	"context"
	"crypto/sha256"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alternatefutures/patd/internal/pattest"
	"github.com/alternatefutures/patd/internal/token"
	"github.com/alternatefutures/patd/internal/webhooks"
)

func TestSignatureIsStandardWebhooks(t *testing.T) {
	// The example of the Standard Webhooks specification.
	key, err := webhooks.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := webhooks.Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if got != "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" {
		t.Errorf("signature %s differs from the specification's example", got)
	}
	want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	if !webhooks.Verify(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`), "v1,bm90IGl0 "+want) {
		t.Error("Verify refuses a header whose second signature matches")
	}
	if webhooks.Verify(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, []byte(`{"test": 2432232314}`), want) {
		t.Error("Verify accepts a signature made for another timestamp")
	}
	for _, bad := range []string{"", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_!!!", "whsec_c2hvcnQ="} {
		if _, err := webhooks.ParseSecret(bad); err == nil {
			t.Errorf("ParseSecret(%q) accepted", bad)
		}
	}
}

func TestEveryChangeTellsTheReceiver(t *testing.T) {
	rc := newReceiver(t)
	cfg := webhookConfig(t, rc)
	cfg.Events.GitLabToken = "gitlab-secret"
	r := pattest.Start(t, cfg)
	c := connect(t, cfg)
	ctx := context.Background()

	created, secret := r.CreateToken(t, "alice", "ci", nil)
	rotated := rotateToken(t, r, "alice", created, 0)
	graced := rotateToken(t, r, "alice", rotated, 3600)
	deleteToken(t, r, "alice", graced)
	leakedID, leaked := r.CreateToken(t, "alice", "ci", nil)
	resp := r.Do(http.MethodPost, "/v1/revoke_tokens", []map[string]string{{
		"type": "gitleaks_rule_id_alternatefutures_personal_access_token", "token": leaked, "location": "https://gitlab.example.com/p/-/blob/main/x"}},
		"Authorization: Bearer gitlab-secret")
	if resp.Status != http.StatusNoContent {
		t.Fatalf("leak report: %s", resp)
	}
	allID, _ := r.CreateToken(t, "bob", "ci", nil)
	if resp := r.Do(http.MethodPost, "/internal/users/bob/revoke-all", nil, "Authorization: Bearer "+pattest.ServiceSecret); resp.Status != http.StatusOK {
		t.Fatalf("revoke-all: %s", resp)
	}
	// Expiry: tokens made a month ago, one with 6 days left, one with 12
	// hours, and one expired (the cleanup deletes it).
	now := time.Now()
	for _, tk := range []struct {
		id  string
		exp time.Time
	}{{"exp-7", now.Add(6 * 24 * time.Hour)}, {"exp-1", now.Add(12 * time.Hour)}, {"exp-0", now.Add(-time.Minute)}} {
		tok, _ := token.New(token.PrefixLive)
		h := sha256.Sum256([]byte(tok))
		if _, err := c.Exec(ctx, `INSERT INTO personal_access_tokens (id, user_id, name, token_hash, token_start, expires_at, created_at)
			VALUES ($1, 'carol', 'old', $2, $3, $4, $5)`, tk.id, h[:], token.Start(tok), tk.exp, now.Add(-30*24*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 { // twice: each notice goes out once
		if err := r.Server.Webhooks.RunPeriodic(ctx, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := r.Server.Maintenance.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}

	got := checkComplete(t, rc, c)
	type ev struct{ typ, tok, extra string }
	var seen []ev
	for _, a := range got {
		extra := ""
		for _, k := range []string{"reason", "newTokenId", "rotatedFromId", "daysLeft", "url"} {
			if v, ok := a.Data[k]; ok {
				extra += k + "=" + strings.TrimSpace(strings.Trim(fmtAny(v), `"`)) + " "
			}
		}
		seen = append(seen, ev{a.Type, a.TokenID, strings.TrimSpace(extra)})
		if strings.Contains(a.Body, secret) || strings.Contains(a.Body, leaked) || strings.Contains(a.Body, "af_live_") && !strings.Contains(a.Body, "…") {
			t.Errorf("an event carries a token: %s", a.Body)
		}
		for _, k := range []string{"id", "name", "maskedToken", "userId", "organizationId", "expiresAt", "createdAt"} {
			if _, ok := a.Data[k]; !ok {
				t.Errorf("%s event has no %s: %s", a.Type, k, a.Body)
			}
		}
	}
	want := map[ev]bool{
		{"token.created", created, ""}:                                                              true,
		{"token.rotated", created, "newTokenId=" + rotated}:                                         true,
		{"token.created", rotated, "rotatedFromId=" + created}:                                      true,
		{"token.revoked", created, "reason=rotated"}:                                                true,
		{"token.rotated", rotated, "newTokenId=" + graced}:                                          true,
		{"token.created", graced, "rotatedFromId=" + rotated}:                                       true,
		{"token.revoked", graced, "reason=deleted"}:                                                 true,
		{"token.created", leakedID, ""}:                                                             true,
		{"token.revoked", leakedID, "reason=leaked url=https://gitlab.example.com/p/-/blob/main/x"}: true,
		{"token.created", allID, ""}:                                                                true,
		{"token.revoked", allID, "reason=revoked_all"}:                                              true,
		{"token.expiring", "exp-7", "daysLeft=7"}:                                                   true,
		{"token.expiring", "exp-1", "daysLeft=1"}:                                                   true,
		{"token.revoked", "exp-0", "reason=expired"}:                                                true,
	}
	for _, e := range seen {
		if !want[e] {
			t.Errorf("unexpected event %+v", e)
		}
		delete(want, e)
	}
	for e := range want {
		t.Errorf("missing event %+v", e)
	}
	if _, bad := rc.stats(); bad != 0 {
		t.Errorf("%d requests with a bad signature", bad)
	}
}

func fmtAny(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}

func TestReceiverDownGetsTheEventsWhenBack(t *testing.T) {
	rc := newReceiver(t)
	rc.setDown(true)
	cfg := webhookConfig(t, rc)
	r := pattest.Start(t, cfg)
	c := connect(t, cfg)
	var ids []string
	for range 3 {
		id, _ := r.CreateToken(t, "dora", "ci", nil)
		ids = append(ids, id)
	}
	deleteToken(t, r, "dora", ids[0])
	pattest.Eventually(t, 10*time.Second, func() (bool, string) {
		n, _ := rc.stats()
		return n >= 6, "waiting for patd to try the endpoint while it is down"
	})
	if got, _ := rc.events(); len(got) != 0 {
		t.Fatalf("a down endpoint received %d events", len(got))
	}
	rc.setDown(false)
	got := checkComplete(t, rc, c)
	if len(got) != 4 {
		t.Errorf("received %d events, want 4", len(got))
	}
}

func TestDeadLetterAndWhatComesAfter(t *testing.T) {
	rc := newReceiver(t)
	rc.setDown(true)
	cfg := webhookConfig(t, rc)
	cfg.Events.WebhookRetrySchedule = []time.Duration{10 * time.Millisecond, 10 * time.Millisecond}
	r := pattest.Start(t, cfg)
	c := connect(t, cfg)
	id, _ := r.CreateToken(t, "ed", "ci", nil)
	pattest.Eventually(t, 10*time.Second, func() (bool, string) {
		var state string
		_ = c.QueryRow(context.Background(), `SELECT state FROM webhook_deliveries`).Scan(&state)
		return state == "dead", "delivery state " + state
	})
	metrics := string(r.Do(http.MethodGet, "/metrics", nil).Body)
	for _, line := range []string{`patd_webhook_deliveries{state="dead"} 1`, `patd_webhook_delivery_attempts_total{outcome="dead"} 1`,
		`patd_webhook_delivery_attempts_total{outcome="failed"} 2`} {
		if !strings.Contains(metrics, line) {
			t.Errorf("metrics lack %s", line)
		}
	}
	// The endpoint is back: the token's next event is not held up by the
	// dead one.
	rc.setDown(false)
	deleteToken(t, r, "ed", id)
	pattest.Eventually(t, 10*time.Second, func() (bool, string) {
		got, _ := rc.events()
		return len(got) == 1 && got[0].Type == "token.revoked", "waiting for token.revoked"
	})
}

func TestRestartMidDeliveryDeliversEveryEventOncePerID(t *testing.T) {
	rc := newReceiver(t)
	cfg := webhookConfig(t, rc)
	c := connect(t, cfg)
	a := pattest.Start(t, cfg)
	hold := make(chan struct{})
	rc.mu.Lock()
	rc.hold = hold
	rc.mu.Unlock()
	var ids []string
	for i := range 15 {
		id, _ := a.CreateToken(t, "fay", "ci", nil)
		ids = append(ids, id)
		if i%2 == 0 {
			deleteToken(t, a, "fay", id)
		}
	}
	pattest.Eventually(t, 10*time.Second, func() (bool, string) {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return rc.held > 0, "waiting for a delivery to be under way"
	})
	// A stops while deliveries are under way; the receiver has taken them
	// but hangs up before answering, as if A died mid-request.
	close(hold)
	a.Stop()
	rc.mu.Lock()
	rc.hold = nil
	held := rc.held
	rc.mu.Unlock()
	b := pattest.Start(t, cfg)
	deleteToken(t, b, "fay", ids[1]) // B's own change joins a stream A began
	got := checkComplete(t, rc, c)
	_, dups := rc.events()
	t.Logf("%d events; %d requests cut off by the stop, %d events received twice (same webhook-id)", len(got), held, dups)
	if len(got) != 15+8+1 {
		t.Errorf("received %d distinct events, want 24", len(got))
	}
	if dups == 0 {
		t.Error("no event was sent again after the restart: the test did not stop A mid-delivery")
	}
}
