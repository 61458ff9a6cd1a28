package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/alternatefutures/patd/internal/auth"
	"github.com/alternatefutures/patd/internal/pat"
	"github.com/alternatefutures/patd/internal/pattest"
)

// A burst of creates from a user at the max-active cap: the ones refused for
// the cap must not hold quota slots while they wait, or the others see the
// quota as spent and get 429 with a reset a day away.
func TestParallelCreatesAtCapNeverSeeQuotaSpent(t *testing.T) {
	t.Parallel()
	cfg := pattest.Config(t)
	cfg.CreateLimit, cfg.MaxActive = 50, 5
	r := pattest.Start(t, cfg)
	ctx := context.Background()
	p := auth.Principal{UserID: "user-1", Method: auth.Session}
	// 40 creations today, 3 tokens still active: 10 slots left, 2 places.
	for i := range 40 {
		c, err := r.Server.Tokens.Create(ctx, p, pat.NewToken{Name: "history"})
		if err != nil {
			t.Fatal(err)
		}
		if i >= 3 {
			if err := r.Server.Tokens.Delete(ctx, p, c.ID); err != nil {
				t.Fatal(err)
			}
		}
	}

	bearer := "Bearer " + r.JWT("user-1")
	const n = 30
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		mu    sync.Mutex
		got   = map[string]int{}
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, _ := http.NewRequest(http.MethodPost, r.URL+"/api/tokens", strings.NewReader(fmt.Sprintf(`{"name":"burst %d"}`, i)))
			req.Header.Set("Authorization", bearer)
			req.Header.Set("Content-Type", "application/json")
			outcome := ""
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				outcome = err.Error()
			} else {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var body struct{ Code string }
				_ = json.Unmarshal(b, &body)
				outcome = fmt.Sprintf("%d %s", resp.StatusCode, body.Code)
			}
			mu.Lock()
			got[outcome]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	if got["201 "] != 2 || got["400 MAX_TOKENS_EXCEEDED"] != n-2 || len(got) != 2 {
		t.Fatalf("%d parallel creates with 2 places left under the cap and 10 quota slots: %v, want 2 × 201 and %d × MAX_TOKENS_EXCEEDED", n, got, n-2)
	}
	var lim struct {
		RateLimit  struct{ Remaining int } `json:"rateLimit"`
		TokenLimit struct{ Active int }    `json:"tokenLimit"`
	}
	r.Do(http.MethodGet, "/api/tokens/limits", nil, "Authorization: "+bearer).JSON(t, &lim)
	if lim.RateLimit.Remaining != 8 || lim.TokenLimit.Active != 5 {
		t.Fatalf("limits after the burst: %+v, want 8 remaining and 5 active", lim)
	}
}
