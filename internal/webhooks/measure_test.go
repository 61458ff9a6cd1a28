package webhooks_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/alternatefutures/patd/internal/pattest"
)

// TestMeasureLeaksAndWebhooks measures, in one run on two replicas:
//   - the time from a GitHub leak report to the token being refused by
//     /validate on both replicas (each had it cached as valid);
//   - webhook throughput and latency from change to delivery, for a burst of
//     creations and deletions made on both replicas.
//
// It takes a while and asserts only what the contract bounds, so make test
// skips it: `make bench-webhooks` runs it (PATD_MEASURE=1).
func TestMeasureLeaksAndWebhooks(t *testing.T) {
	if os.Getenv("PATD_MEASURE") == "" {
		t.Skip("a measurement: make bench-webhooks runs it")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	keys := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"public_keys": []map[string]any{{
			"key_identifier": "k1", "is_current": true,
			"key": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
		}}})
	}))
	defer keys.Close()

	rc := newReceiver(t)
	cfg := webhookConfig(t, rc)
	cfg.Events.GitHubKeysURL = keys.URL
	cfg.CreateLimit, cfg.MaxActive, cfg.ValidateRate = 1<<30, 1<<30, 0
	a, b := pattest.Start(t, cfg), pattest.Start(t, cfg)
	replicas := []*pattest.Replica{a, b}

	// 1. Leak report → refused on every replica.
	const reports = 30
	var leakTimes []time.Duration
	for i := range reports {
		_, tok := a.CreateToken(t, "leaky", "ci", nil)
		for _, r := range replicas {
			if s := validateCode(t, r, tok); s != http.StatusOK {
				t.Fatalf("validate before the report: %d", s)
			}
		}
		body, _ := json.Marshal([]map[string]string{{"token": tok, "type": "af_pat", "url": fmt.Sprintf("https://github.com/o/r/blob/x/f%d", i), "source": "content"}})
		d := sha256.Sum256(body)
		sig, _ := ecdsa.SignASN1(rand.Reader, key, d[:])
		start := time.Now()
		resp := a.Do(http.MethodPost, "/secret-scanning/github", body,
			"Github-Public-Key-Identifier: k1", "Github-Public-Key-Signature: "+base64.StdEncoding.EncodeToString(sig))
		if resp.Status != http.StatusOK {
			t.Fatalf("report: %s", resp)
		}
		answered := time.Since(start)
		for _, r := range replicas {
			for validateCode(t, r, tok) != http.StatusUnauthorized {
				if time.Since(start) > time.Second {
					t.Fatalf("replica %s still accepts a leaked token after a second", r.URL)
				}
				time.Sleep(time.Millisecond)
			}
		}
		leakTimes = append(leakTimes, time.Since(start))
		if i == 0 {
			t.Logf("first report answered in %s", answered)
		}
	}
	t.Logf("leak report → refused on both replicas (%d reports, each polled every 1 ms): %s", reports, summary(leakTimes))

	// 2. Webhook burst: creations and deletions on both replicas.
	before, _ := rc.events()
	const tokens = 600
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, tokens)
	sem := make(chan struct{}, 8)
	for i := range tokens {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r := replicas[i%2]
			id, err := rawCreate(r, fmt.Sprintf("burst-%d", i%50))
			if err == nil && i%2 == 0 {
				err = rawDelete(r, fmt.Sprintf("burst-%d", i%50), id)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	changed := time.Since(start)
	want := len(before) + tokens + tokens/2
	pattest.Eventually(t, 2*time.Minute, func() (bool, string) {
		got, _ := rc.events()
		return len(got) >= want, fmt.Sprintf("%d of %d events", len(got), want)
	})
	got, dups := rc.events()
	var last time.Time
	var lat []time.Duration
	for _, ev := range got[len(before):] {
		lat = append(lat, ev.At.Sub(ev.Sent))
		if ev.At.After(last) {
			last = ev.At
		}
	}
	total := last.Sub(start)
	events := len(got) - len(before)
	t.Logf("webhooks: %d events (%d creations, %d deletions, on 2 replicas, 8 clients) made in %s, all delivered %s after the first change: %.0f events/s; %d sent twice",
		events, tokens, tokens/2, changed.Round(time.Millisecond), total.Round(time.Millisecond), float64(events)/total.Seconds(), dups)
	t.Logf("webhook latency, change → receiver (payload timestamp, ms precision): %s", summary(lat))
	if _, bad := rc.stats(); bad != 0 {
		t.Errorf("%d requests with a bad signature", bad)
	}
	checkComplete(t, rc, connect(t, cfg))
}

func validateCode(t *testing.T, r *pattest.Replica, tok string) int {
	return r.Do(http.MethodPost, "/validate", map[string]string{"token": tok}, "Authorization: Bearer "+pattest.ServiceSecret).Status
}

func rawCreate(r *pattest.Replica, user string) (string, error) {
	resp, err := r.Send(http.MethodPost, "/api/tokens", map[string]any{"name": "burst"}, "Authorization: Bearer "+r.JWT(user))
	if err != nil {
		return "", err
	}
	if resp.Status != http.StatusCreated {
		return "", fmt.Errorf("create: %d %s", resp.Status, resp.Body)
	}
	var out struct {
		Token struct{ ID string } `json:"token"`
	}
	return out.Token.ID, json.Unmarshal(resp.Body, &out)
}

func rawDelete(r *pattest.Replica, user, id string) error {
	resp, err := r.Send(http.MethodDelete, "/api/tokens/"+id, nil, "Authorization: Bearer "+r.JWT(user))
	if err != nil {
		return err
	}
	if resp.Status != http.StatusOK {
		return fmt.Errorf("delete: %d", resp.Status)
	}
	return nil
}

func summary(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	q := func(p float64) time.Duration {
		return s[min(len(s)-1, int(p*float64(len(s))))].Round(100 * time.Microsecond)
	}
	return fmt.Sprintf("p50 %s, p95 %s, p99 %s, max %s (n=%d)", q(.5), q(.95), q(.99), s[len(s)-1].Round(100*time.Microsecond), len(s))
}
