package replicas_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/alternatefutures/patd/internal/pattest"
)

func TestCreateQuotaHoldsAcrossReplicas(t *testing.T) {
	t.Parallel()
	cfg := pattest.Config(t)
	cfg.CreateLimit = 10
	a, b := pattest.Start(t, cfg), pattest.Start(t, cfg)
	bearer := "Authorization: Bearer " + a.JWT("user-1")

	statuses := make(chan int, 30)
	var wg sync.WaitGroup
	for i := 0; i < 30; i++ {
		r := a
		if i%2 == 1 {
			r = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := r.Send(http.MethodPost, "/api/tokens", map[string]any{"name": "parallel"}, bearer)
			if err != nil {
				t.Error(err) // counted below as status 0
			}
			statuses <- resp.Status
		}()
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if count[http.StatusCreated] != 10 || count[http.StatusTooManyRequests] != 20 {
		t.Errorf("30 parallel creates over two replicas with a quota of 10: %v", count)
	}
	var l restList
	b.Do(http.MethodGet, "/api/tokens", nil, bearer).JSON(t, &l)
	if len(l.Tokens) != 10 {
		t.Errorf("%d tokens stored, want 10", len(l.Tokens))
	}
	// Both replicas report the same, true numbers.
	for _, r := range []*pattest.Replica{a, b} {
		var out struct {
			L struct {
				Remaining, Limit int
				ResetAt          string
			} `json:"apiKeyRateLimit"`
		}
		r.GraphQL(t, a.JWT("user-1"), `{ apiKeyRateLimit { remaining limit resetAt } }`, nil).OK(t).Decode(t, &out)
		reset, err := time.Parse(time.RFC3339, out.L.ResetAt)
		if out.L.Remaining != 0 || out.L.Limit != 10 || err != nil || reset.Before(time.Now().Add(23*time.Hour)) {
			t.Errorf("apiKeyRateLimit: %+v", out.L)
		}
	}
}

func TestValidateRateAcrossReplicas(t *testing.T) {
	t.Parallel()
	cfg := pattest.Config(t)
	cfg.ValidateRate = 20
	cfg.ValidateWindow = time.Hour
	a, b := pattest.Start(t, cfg), pattest.Start(t, cfg)
	_, secret := a.CreateToken(t, "user-1", "ci", nil)
	allowed := 0
	for i := 0; i < 30; i++ {
		r := a
		if i%2 == 1 {
			r = b
		}
		if resp, _ := validate(t, r, secret); resp.Status == http.StatusOK {
			allowed++
		}
		if i%5 == 4 {
			// Give the background reconciliation a chance, as real traffic would.
			time.Sleep(300 * time.Millisecond)
		}
	}
	// Without sharing each replica would allow 20 (40 in all).
	if allowed < 20 || allowed > 25 {
		t.Errorf("two replicas allowed %d validations of a limit of 20", allowed)
	}
}
