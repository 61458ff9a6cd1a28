package httpapi_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/alternatefutures/patd/internal/pattest"
	"github.com/alternatefutures/patd/internal/token"
)

// validateCall builds one POST /validate of tok, with the service's
// credentials, and returns a function that serves it through h in process and
// returns the status. The request, its body and the writer are reused, so a
// call allocates only what the handler does (plus the request plumbing), not
// what the loopback network would.
func validateCall(h http.Handler, tok string) func() int {
	body := []byte(`{"token":"` + tok + `"}`)
	req := httptest.NewRequest(http.MethodPost, "/validate", nil)
	req.Header.Set("Authorization", "Bearer "+pattest.ServiceSecret)
	req.Header.Set("Content-Type", "application/json")
	// As the server sets it for a request that states its length.
	req.ContentLength = int64(len(body))
	rd := bytes.NewReader(body)
	rc := io.NopCloser(rd)
	w := &discard{h: http.Header{}}
	return func() int {
		rd.Reset(body)
		req.Body = rc
		clear(w.h)
		w.status = 0
		h.ServeHTTP(w, req)
		return w.status
	}
}

// benchValidate drives the validate handler in process, so the figures are the
// handler's own, not the loopback network's.
func benchValidate(b *testing.B, h http.Handler, tok string, want int) {
	call := validateCall(h, tok)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if status := call(); status != want {
			b.Fatalf("status %d, want %d", status, want)
		}
	}
}

type discard struct {
	h      http.Header
	status int
}

func (d *discard) Header() http.Header { return d.h }
func (d *discard) Write(p []byte) (int, error) {
	if d.status == 0 {
		d.status = http.StatusOK // as net/http does on a Write without WriteHeader
	}
	return len(p), nil
}
func (d *discard) WriteHeader(s int) { d.status = s }

func benchReplica(b testing.TB) (*pattest.Replica, string) {
	cfg := pattest.Config(b)
	cfg.ValidateRate = 0
	r := pattest.Start(b, cfg)
	_, secret := createTokenB(b, r)
	return r, secret
}

func createTokenB(b testing.TB, r *pattest.Replica) (string, string) {
	var out struct {
		C struct{ ID, Token string } `json:"createPersonalAccessToken"`
	}
	r.GraphQL(b, r.JWT("bench"), `mutation { createPersonalAccessToken(name: "bench") { id token } }`, nil).OK(b).Decode(b, &out)
	return out.C.ID, out.C.Token
}

// BenchmarkValidateCacheHit is the hot path: a valid token already cached.
func BenchmarkValidateCacheHit(b *testing.B) {
	r, secret := benchReplica(b)
	benchValidate(b, r.Server.Handler(), secret, http.StatusOK)
}

// BenchmarkValidateMiss forces a database lookup each time (cache off), for
// comparison with the hit.
func BenchmarkValidateMiss(b *testing.B) {
	cfg := pattest.Config(b)
	cfg.ValidateRate = 0
	cfg.CacheTTL = 0
	r := pattest.Start(b, cfg)
	_, secret := createTokenB(b, r)
	benchValidate(b, r.Server.Handler(), secret, http.StatusOK)
}

// BenchmarkValidateMalformed proves a token failing its checksum never
// reaches the store: the replica's query counter must not move.
func BenchmarkValidateMalformed(b *testing.B) {
	r, secret := benchReplica(b)
	bad := []byte(secret)
	bad[20] ^= 1 // still base62, checksum now wrong
	if token.Classify(string(bad)) != token.Malformed {
		b.Fatal("token still passes its checksum")
	}
	// Only lookups count: the replica's background loops (revocation
	// heartbeat, imported hashes) may run meanwhile.
	const lookup = "FROM personal_access_tokens WHERE token_hash"
	before := r.Queries(lookup)
	benchValidate(b, r.Server.Handler(), string(bad), http.StatusUnauthorized)
	if n := r.Queries(lookup) - before; n != 0 {
		b.Fatalf("malformed tokens were looked up %d times", n)
	}
}

// BenchmarkValidateHTTP is load on the real route: parallel clients over
// loopback HTTP with keep-alive, cache hits.
func BenchmarkValidateHTTP(b *testing.B) {
	r, secret := benchReplica(b)
	body := []byte(`{"token":"` + secret + `"}`)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, r.URL+"/validate", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+pattest.ServiceSecret)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}
