package httpapi_test

import (
	"context"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/alternatefutures/patd/internal/pattest"
)

// Whatever a client puts in its headers, its writes go through: PostgreSQL
// refuses text that is not valid UTF-8, so a User-Agent of arbitrary bytes,
// or a UTF-8 one cut in the middle of a character, must not reach an audit row
// as it is. Above all, nothing a client sends can stop its tokens from being
// revoked.
func TestHeadersCannotBlockWrites(t *testing.T) {
	t.Parallel()
	cfg := pattest.Config(t)
	// The test client stands for a trusted proxy, so X-Request-Id and
	// X-Forwarded-For are read too.
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	r := pattest.Start(t, cfg)
	conn, err := pgx.Connect(context.Background(), cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())

	// Each agent and what is stored of it: valid UTF-8, at most 256 bytes,
	// cut between characters, U+FFFD where the bytes were not UTF-8.
	agents := map[string]struct{ sent, stored string }{
		"invalid byte":          {"curl\xff", "curl\uFFFD"},
		"cut mid-character":     {strings.Repeat("a", 255) + "é", strings.Repeat("a", 255)}, // byte 256 is half of é
		"long multibyte":        {strings.Repeat("日本", 100), strings.Repeat("日本", 42) + "日"},
		"lone continuation":     {"\x80\x80", "\uFFFD"},
		"truncated 4-byte rune": {"x\xf0\x9f\x98", "x\uFFFD"},
	}
	for name, agent := range agents {
		ua := agent.sent
		t.Run(name, func(t *testing.T) {
			user := "user-" + strings.ReplaceAll(name, " ", "-")
			headers := []string{
				"Authorization: Bearer " + r.JWT(user), "User-Agent: " + ua,
				"X-Request-Id: req\xff\xfe", "X-Forwarded-For: fe80::1%\xff\xfe" + strings.Repeat("z", 300) + ", 127.0.0.1",
			}
			// Two tokens made with plain headers, to revoke with these; one
			// made with these.
			var ids []string
			for i := range 3 {
				h := headers
				if i < 2 {
					h = []string{headers[0]}
				}
				resp := r.Do(http.MethodPost, "/api/tokens", map[string]any{"name": "agent"}, h...)
				var c restCreated
				resp.JSON(t, &c)
				if resp.Status != http.StatusCreated {
					t.Errorf("create: %s", resp)
					continue
				}
				ids = append(ids, c.Token.ID)
			}
			if len(ids) < 2 {
				t.Fatal("could not create the tokens to revoke")
			}
			if resp := r.Do(http.MethodDelete, "/api/tokens/"+ids[0], nil, headers...); resp.Status != http.StatusOK {
				t.Errorf("REST delete: %s", resp)
			}
			resp := r.Do(http.MethodPost, "/graphql", map[string]any{
				"query": `mutation($id: ID!) { deletePersonalAccessToken(id: $id) }`, "variables": map[string]any{"id": ids[1]},
			}, headers...)
			if resp.Status != http.StatusOK || strings.Contains(string(resp.Body), `"errors"`) {
				t.Errorf("GraphQL delete: %s", resp)
			}
			resp = r.Do(http.MethodPost, "/internal/users/"+user+"/revoke-all", nil,
				"Authorization: Bearer "+pattest.ServiceSecret, "User-Agent: "+ua, headers[2], headers[3])
			if resp.Status != http.StatusOK || !strings.Contains(string(resp.Body), `"deleted":`+strconv.Itoa(len(ids)-2)) {
				t.Errorf("revoke-all: %s", resp)
			}

			rows, err := conn.Query(context.Background(), `SELECT action, user_agent, request_id, client_ip FROM pat_audit_events WHERE user_id = $1`, user)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for rows.Next() {
				var action, got, reqID, ip string
				if err := rows.Scan(&action, &got, &reqID, &ip); err != nil {
					t.Fatal(err)
				}
				n++
				if !utf8.ValidString(reqID) || len(reqID) > 128 || ip != "fe80::1" && ip != "127.0.0.1" {
					t.Errorf("%s: stored request id %q, client ip %q", action, reqID, ip)
				}
				if got != agent.stored && got != "Go-http-client/1.1" {
					t.Errorf("%s: stored user agent %q, want %q", action, got, agent.stored)
				}
			}
			if rows.Err() != nil {
				t.Fatal(rows.Err())
			}
			if want := 2 * len(ids); n != want { // creates, 2 deletes, one revoke-all row per token left
				t.Errorf("%d audit rows, want %d", n, want)
			}
		})
	}
}
