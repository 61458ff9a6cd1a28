package server_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alternatefutures/patd/internal/auth"
	"github.com/alternatefutures/patd/internal/pattest"
	"github.com/alternatefutures/patd/internal/server"
	"github.com/alternatefutures/patd/internal/token"
)

// Every route of the route table has the request deadline but the validate
// routes (all their paths), whose lookup has a deadline of its own: one more
// would cost the hottest route a timer and three allocations. Seen from inside
// each handler, through the context of what it logs when the token store is
// down. The access log names each route.
func TestRouteDeadlines(t *testing.T) {
	t.Parallel()
	cfg := pattest.Config(t)
	logs := &contextLog{}
	srv, err := server.New(context.Background(), cfg, slog.New(logs), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// From here on every request that needs the store fails, and its
	// handler logs that with the request's context.
	srv.Close()
	jwt, err := auth.SignSession(auth.JWTConfig{Secret: cfg.JWTSecret, Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience}, "user-1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	unknown, err := token.New(token.PrefixLive) // well formed: looked up
	if err != nil {
		t.Fatal(err)
	}
	service, user := "Bearer "+pattest.ServiceSecret, "Bearer "+jwt
	validate := `{"token":"` + unknown + `"}`
	for _, tt := range []struct {
		method, path, authz, body string
		route                     string
		deadline                  bool
	}{
		{"POST", "/validate", service, validate, "POST /validate", false},
		{"POST", "/api/tokens/validate", service, validate, "POST /api/tokens/validate", false},
		{"POST", "/tokens/validate", service, validate, "POST /tokens/validate", false},
		{"POST", "/graphql", user, `{"query":"{ personalAccessTokens { data { id } } }"}`, "POST /graphql", true},
		{"GET", "/api/tokens", user, "", "GET /api/tokens", true},
		{"POST", "/internal/users/user-1/revoke-all", service, "", "POST /internal/users/{userId}/revoke-all", true},
	} {
		logs.reset()
		req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
		req.Header.Set("Authorization", tt.authz)
		req.Header.Set("Content-Type", "application/json")
		before := time.Now()
		srv.Handler().ServeHTTP(httptest.NewRecorder(), req)
		after := time.Now()

		handler, access := 0, 0
		for _, l := range logs.get() {
			if l.msg == "request" { // the access log, outside the route
				access++
				if l.route != tt.route {
					t.Errorf("%s %s: access log route %q, want %q", tt.method, tt.path, l.route, tt.route)
				}
				continue
			}
			handler++
			switch {
			case l.hasDeadline != tt.deadline:
				t.Errorf("%s %s: %q logged with a deadline: %v, want %v", tt.method, tt.path, l.msg, l.hasDeadline, tt.deadline)
			case tt.deadline && (l.deadline.Before(before.Add(server.RequestTimeout)) || l.deadline.After(after.Add(server.RequestTimeout))):
				t.Errorf("%s %s: deadline %s after the request, want %s", tt.method, tt.path, l.deadline.Sub(before), server.RequestTimeout)
			}
		}
		if handler == 0 || access != 1 {
			t.Errorf("%s %s: %d lines from the handler, %d access lines; want some, and 1", tt.method, tt.path, handler, access)
		}
	}
}

// contextLog is a slog.Handler that keeps, of each record, the message, the
// route attribute and the deadline of the context it was logged with.
type contextLog struct {
	mu    sync.Mutex
	lines []contextLine
}

type contextLine struct {
	msg, route  string
	deadline    time.Time
	hasDeadline bool
}

func (c *contextLog) Enabled(context.Context, slog.Level) bool { return true }
func (c *contextLog) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *contextLog) WithGroup(string) slog.Handler            { return c }

func (c *contextLog) Handle(ctx context.Context, r slog.Record) error {
	l := contextLine{msg: r.Message}
	l.deadline, l.hasDeadline = ctx.Deadline()
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "route" {
			l.route = a.Value.String()
		}
		return true
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, l)
	return nil
}

func (c *contextLog) get() []contextLine {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]contextLine(nil), c.lines...)
}

func (c *contextLog) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = nil
}
