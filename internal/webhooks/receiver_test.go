package webhooks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/alternatefutures/patd/internal/config"
	"github.com/alternatefutures/patd/internal/pattest"
	"github.com/alternatefutures/patd/internal/webhooks"
)

// testSecret is the WEBHOOK_SECRET of test replicas.
const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// arrival is one request the receiver took.
type arrival struct {
	ID      string
	Type    string
	TokenID string
	Data    map[string]any
	At      time.Time
	Sent    time.Time // the payload's timestamp: when the change happened
	Body    string
}

// receiver is a webhook endpoint as a customer would write one: it checks
// the signature and the timestamp, and dedupes by webhook-id.
type receiver struct {
	key []byte
	srv *httptest.Server

	mu   sync.Mutex
	down bool // answer 503
	// hold, when not nil, makes each verified request wait until it is
	// closed and then hang up without an answer: the receiver took the
	// event, but patd never hears so, as if patd died mid-request.
	hold     chan struct{}
	held     int
	all      []arrival // every verified request, duplicates included
	firstOf  map[string]int
	order    []string // ids in order of first arrival
	badSigs  int
	requests int
}

func newReceiver(t testing.TB) *receiver {
	key, err := webhooks.ParseSecret(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	rc := &receiver{key: key, firstOf: map[string]int{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	id, ts := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	rc.mu.Lock()
	rc.requests++
	if err != nil || !webhooks.Verify(rc.key, id, sec, body, r.Header.Get("webhook-signature")) ||
		time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		rc.badSigs++
		rc.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if rc.down {
		rc.mu.Unlock()
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	var p struct {
		Type      string         `json:"type"`
		Timestamp time.Time      `json:"timestamp"`
		Data      map[string]any `json:"data"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		rc.mu.Unlock()
		http.Error(w, "not JSON", http.StatusBadRequest)
		return
	}
	a := arrival{ID: id, Type: p.Type, Data: p.Data, At: time.Now(), Sent: p.Timestamp, Body: string(body)}
	a.TokenID, _ = p.Data["id"].(string)
	rc.all = append(rc.all, a)
	if _, seen := rc.firstOf[id]; !seen {
		rc.firstOf[id] = len(rc.all) - 1
		rc.order = append(rc.order, id)
	}
	hold := rc.hold
	if hold != nil {
		rc.held++
	}
	rc.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
		}
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) setDown(down bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.down = down
}

// events returns the events in order of first arrival (deduped by id), and
// how many requests were duplicates.
func (rc *receiver) events() (evs []arrival, dups int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, id := range rc.order {
		evs = append(evs, rc.all[rc.firstOf[id]])
	}
	return evs, len(rc.all) - len(rc.order)
}

func (rc *receiver) stats() (requests, badSigs int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.requests, rc.badSigs
}

// webhookConfig is a test replica's configuration with webhooks to rc and a
// quick retry schedule.
func webhookConfig(t testing.TB, rc *receiver) *config.Config {
	cfg := pattest.Config(t)
	key, err := webhooks.ParseSecret(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Events.WebhookURLs = []string{rc.srv.URL + "/hooks"}
	cfg.Events.WebhookKey = key
	cfg.Events.WebhookRetrySchedule = []time.Duration{20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
		200 * time.Millisecond, 200 * time.Millisecond, 200 * time.Millisecond, 200 * time.Millisecond, 200 * time.Millisecond,
		200 * time.Millisecond, 200 * time.Millisecond, 200 * time.Millisecond, 200 * time.Millisecond}
	cfg.Events.WebhookPeriodicEvery = time.Hour // tests run it themselves
	return cfg
}

func deleteToken(t testing.TB, r *pattest.Replica, user, id string) {
	t.Helper()
	if resp := r.Do(http.MethodDelete, "/api/tokens/"+id, nil, "Authorization: Bearer "+r.JWT(user)); resp.Status != http.StatusOK {
		t.Fatalf("delete: %s", resp)
	}
}

func rotateToken(t testing.TB, r *pattest.Replica, user, id string, grace int) (newID string) {
	t.Helper()
	q := `mutation($id: ID!, $g: Int) { rotatePersonalAccessToken(id: $id, gracePeriodSeconds: $g) { id } }`
	var out struct {
		R struct{ ID string } `json:"rotatePersonalAccessToken"`
	}
	r.GraphQL(t, r.JWT(user), q, map[string]any{"id": id, "g": grace}).OK(t).Decode(t, &out)
	if out.R.ID == "" {
		t.Fatal("rotate: no id in the answer")
	}
	return out.R.ID
}

func connect(t testing.TB, cfg *config.Config) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// outbox returns every event patd wrote: id → (token, seq).
func outbox(t testing.TB, c *pgx.Conn) map[string][2]any {
	t.Helper()
	rows, err := c.Query(context.Background(), `SELECT id, token_id, seq FROM webhook_events`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][2]any{}
	for rows.Next() {
		var id, tok string
		var seq int32
		if err := rows.Scan(&id, &tok, &seq); err != nil {
			t.Fatal(err)
		}
		out[id] = [2]any{tok, seq}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkComplete fails t unless the receiver has every event of the outbox,
// each token's in change order (seq), and nothing else.
func checkComplete(t testing.TB, rc *receiver, c *pgx.Conn) []arrival {
	t.Helper()
	want := outbox(t, c)
	var got []arrival
	pattest.Eventually(t, 30*time.Second, func() (bool, string) {
		got, _ = rc.events()
		return len(got) >= len(want), fmt.Sprintf("%d of %d events received", len(got), len(want))
	})
	last := map[string]int32{}
	for _, a := range got {
		w, ok := want[a.ID]
		if !ok {
			t.Fatalf("received an event patd never wrote: %s", a.ID)
		}
		tok, seq := w[0].(string), w[1].(int32)
		if seq <= last[tok] {
			t.Errorf("token %s: event %d (%s) arrived after event %d", tok, seq, a.Type, last[tok])
		}
		last[tok] = seq
	}
	if len(got) != len(want) {
		t.Errorf("received %d distinct events, patd wrote %d", len(got), len(want))
	}
	return got
}
