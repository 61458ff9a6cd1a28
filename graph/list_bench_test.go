package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/alternatefutures/patd/internal/auth"
	"github.com/alternatefutures/patd/internal/pat"
	"github.com/alternatefutures/patd/internal/pattest"
)

// BenchmarkGraphQLList100 is a page of 100 tokens, every field the web app
// shows, through the whole route table in process: the figures are patd's
// own (and PostgreSQL's two queries), not the network's.
func BenchmarkGraphQLList100(b *testing.B) {
	cfg := pattest.Config(b)
	cfg.CreateLimit, cfg.MaxActive = 1000, 1000
	r := pattest.Start(b, cfg)
	user := auth.Principal{UserID: "bench-user", Method: auth.Session}
	for range 100 {
		if _, err := r.Server.Tokens.Create(context.Background(), user, pat.NewToken{Name: "bench"}); err != nil {
			b.Fatal(err)
		}
	}
	body, _ := json.Marshal(map[string]string{"query": `query { personalAccessTokens(first: 100) { totalCount data { id name maskedToken expiresAt lastUsedAt createdAt } pageInfo { hasNextPage endCursor } } }`})
	h := r.Server.Handler()
	req := httptest.NewRequest(http.MethodPost, "/graphql", nil)
	req.Header.Set("Authorization", "Bearer "+r.JWT("bench-user"))
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = int64(len(body))
	rd := bytes.NewReader(body)
	rc := io.NopCloser(rd)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rd.Reset(body)
		req.Body = rc
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK || bytes.Contains(w.Body.Bytes(), []byte(`"errors"`)) {
			b.Fatalf("%d %.300s", w.Code, w.Body)
		}
	}
}
