package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alternatefutures/patd/internal/pattest"
)

// fuzzTB is the *testing.F a fuzz replica is started with. The replica logs
// (warnings and errors) through t.Log from its own goroutines, and calling
// f.Log while the fuzz function runs panics ("use t.Log instead"): inside a
// handler that panic would turn a logged 5xx into a dropped connection. So
// log lines are kept here instead and shown with the failure they explain.
type fuzzTB struct {
	testing.TB
	mu    sync.Mutex
	lines []string
}

func (f *fuzzTB) Log(args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lines = append(f.lines, fmt.Sprint(args...))
	if len(f.lines) > 50 {
		f.lines = f.lines[len(f.lines)-50:]
	}
}

func (f *fuzzTB) Logf(format string, args ...any) { f.Log(fmt.Sprintf(format, args...)) }

// recent returns the replica's log lines since the last call.
func (f *fuzzTB) recent() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := strings.Join(f.lines, "\n")
	f.lines = nil
	return s
}

var fuzzClient = &http.Client{Timeout: 15 * time.Second}

// fuzzPost sends body as it is; the answer is nil when the request could not
// be sent.
func fuzzPost(t testing.TB, url string, body []byte, header ...string) (status int, resp []byte, err error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	r, err := fuzzClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer r.Body.Close()
	resp, err = io.ReadAll(r.Body)
	return r.StatusCode, resp, err
}

// fuzzCreateToken creates a token over GraphQL before fuzzing starts.
func fuzzCreateToken(tb testing.TB, r *pattest.Replica, jwt, name string) (id, secret string) {
	var out struct {
		C struct {
			ID    string `json:"id"`
			Token string `json:"token"`
		} `json:"createPersonalAccessToken"`
	}
	r.GraphQL(tb, jwt, `mutation($name: String!) { createPersonalAccessToken(name: $name) { id token } }`,
		map[string]any{"name": name}).OK(tb).Decode(tb, &out)
	return out.C.ID, out.C.Token
}

const fuzzUser = "fuzz-validate-user"

func FuzzValidateBody(f *testing.F) {
	ftb := &fuzzTB{TB: f}
	r := pattest.Start(ftb, pattest.Config(f))
	jwt := r.JWT(fuzzUser)
	id, secret := fuzzCreateToken(f, r, jwt, "fuzz valid")
	deletedID, deleted := fuzzCreateToken(f, r, jwt, "fuzz deleted")
	r.GraphQL(f, jwt, `mutation($id: ID!) { deletePersonalAccessToken(id: $id) }`, map[string]any{"id": deletedID}).OK(f)
	for tok, want := range map[string]int{secret: http.StatusOK, deleted: http.StatusUnauthorized} {
		if st, resp, err := fuzzPost(f, r.URL+"/validate", []byte(`{"token":"`+tok+`"}`), "Authorization", "Bearer "+pattest.ServiceSecret); err != nil || st != want {
			f.Fatalf("setup: validate: %d %s (%v), want %d", st, resp, err, want)
		}
	}
	ftb.recent()

	for _, seed := range []string{
		`{"token":"` + secret + `"}`,
		`{"token":"` + deleted + `"}`,
		`{"token":"` + secret[:len(secret)-1] + `x"}`,
		`{"token":" ` + secret + `"}`,
		`{"token":"` + strings.ToUpper(secret) + `"}`,
		`{"TOKEN":"` + secret + `"}`,
		`{"token":"` + secret + `","token":null}`,
		`{"token":null,"token":"` + secret + `"}`,
		`{"token":"` + secret + `"} trailing`,
		`{"token":"\u0061f_live_` + secret[8:] + `"}`,
		`{}`,
		`{"token":1}`,
		`{"token":""}`,
		`{"token":{"token":"` + secret + `"}}`,
		`{"token":["` + secret + `"]}`,
		`null`,
		``,
		`[`,
		`"` + secret + `"`,
		`{"token":"` + strings.Repeat("a", 4000) + `"}`,
		`{"token":"` + strings.Repeat("a", 5000) + `"}`,
		`{"token":"af_live_` + strings.Repeat("é", 18) + `"}`,
		`{"token":"af_live_日本語のトークン"}`,
		`{"token":"\u0000\ud800"}`,
		"{\"token\":\"\xff\xfe\"}",
		`{"token":"af_live_000000000000000000000000000000000000"}`,
		`{"token":"eyJhbGciOiJIUzI1NiJ9.e30.x"}`,
	} {
		f.Add([]byte(seed))
	}

	var mu sync.Mutex // the replica's log is shared; take it one input at a time
	f.Fuzz(func(t *testing.T, body []byte) {
		mu.Lock()
		defer mu.Unlock()
		status, resp, err := fuzzPost(t, r.URL+"/validate", body, "Authorization", "Bearer "+pattest.ServiceSecret)
		logs := ftb.recent()
		if err != nil {
			// Over the limit the server may answer 413 and close before the
			// client has finished sending.
			if len(body) > 4096 {
				return
			}
			t.Fatalf("POST /validate %q: %v\nreplica log:\n%s", clip(body), err, logs)
		}
		switch status {
		case http.StatusOK, http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge, http.StatusTooManyRequests:
		default:
			t.Fatalf("POST /validate %q: status %d: %s\nreplica log:\n%s", clip(body), status, resp, logs)
		}
		if !json.Valid(resp) {
			t.Fatalf("POST /validate %q: %d answer is not JSON: %q", clip(body), status, resp)
		}
		var a struct {
			Valid   *bool  `json:"valid"`
			Active  *bool  `json:"active"`
			Code    string `json:"code"`
			UserID  string `json:"userId"`
			TokenID string `json:"tokenId"`
		}
		if err := json.Unmarshal(resp, &a); err != nil {
			t.Fatalf("POST /validate %q: %d answer is not a JSON object: %q", clip(body), status, resp)
		}
		if status != http.StatusOK {
			if (a.Valid != nil && *a.Valid) || (a.Active != nil && *a.Active) {
				t.Fatalf("POST /validate %q: status %d with valid/active true: %s", clip(body), status, resp)
			}
			want := map[int][]string{
				http.StatusBadRequest:            {"BAD_REQUEST"},
				http.StatusUnauthorized:          {"NOT_FOUND", "EXPIRED", "MALFORMED"},
				http.StatusRequestEntityTooLarge: {"PAYLOAD_TOO_LARGE"},
				http.StatusTooManyRequests:       {"RATE_LIMITED"},
			}[status]
			ok := false
			for _, c := range want {
				ok = ok || a.Code == c
			}
			if !ok {
				t.Fatalf("POST /validate %q: status %d with code %q, want one of %q", clip(body), status, a.Code, want)
			}
			return
		}
		// 200 only for the live token created in setup, however it was spelled.
		var req struct {
			Token *string `json:"token"`
		}
		_ = json.Unmarshal(body, &req)
		if req.Token == nil || *req.Token != secret {
			t.Fatalf("POST /validate %q: 200 for something other than the setup token: %s", clip(body), resp)
		}
		if a.Valid == nil || !*a.Valid || a.Code != "VALID" || a.UserID != fuzzUser || a.TokenID != id {
			t.Fatalf("POST /validate %q: 200 with %s", clip(body), resp)
		}
	})
}

var fuzzTokenPattern = regexp.MustCompile(`^af_live_[0-9A-Za-z]{36}$`)

func FuzzRESTCreateBody(f *testing.F) {
	ftb := &fuzzTB{TB: f}
	cfg := pattest.Config(f)
	// Let creations through, so that the fuzzer reaches the insert and not
	// only the quota.
	cfg.CreateLimit = 1 << 30
	cfg.MaxActive = 1 << 30
	r := pattest.Start(ftb, cfg)
	jwt := r.JWT("fuzz-rest-user")
	if st, resp, err := fuzzPost(f, r.URL+"/api/tokens", []byte(`{"name":"setup"}`), "Authorization", "Bearer "+jwt); err != nil || st != http.StatusCreated {
		f.Fatalf("setup: create: %d %s (%v)", st, resp, err)
	}
	ftb.recent()

	for _, seed := range []string{
		`{"name":"laptop"}`,
		`{"name":"  spaced name  ","expiresAt":null}`,
		`{"name":"ci","expiresAt":` + fmt.Sprint(time.Now().Add(24*time.Hour).UnixMilli()) + `}`,
		`{"name":"ci","expiresAt":"` + time.Now().Add(48*time.Hour).UTC().Format(time.RFC3339) + `"}`,
		`{"name":"ci","expiresAt":"2000-01-01T00:00:00Z"}`,
		`{"name":"ci","expiresAt":1e300}`,
		`{"name":"ci","expiresAt":-1}`,
		`{"name":"ci","expiresAt":1.5}`,
		`{"name":"ci","expiresAt":true}`,
		`{"name":"ci","expiresAt":"9999-12-31T23:59:59+23:59"}`,
		`{"name":"ci","expiresAt":"tomorrow"}`,
		`{"name":""}`,
		`{"name":"bad/name"}`,
		`{"name":"` + strings.Repeat("n", 101) + `"}`,
		`{"name":"` + strings.Repeat("界", 100) + `"}`,
		`{"name":"\u0000"}`,
		"{\"name\":\"\xff\"}",
		`{"name":1}`,
		`{"name":null}`,
		`{}`,
		`null`,
		``,
		`[`,
		`{"name":"x"} trailing`,
		`{"name":"` + strings.Repeat("a", 5000) + `"}`,
	} {
		f.Add([]byte(seed))
	}

	var mu sync.Mutex
	f.Fuzz(func(t *testing.T, body []byte) {
		mu.Lock()
		defer mu.Unlock()
		status, resp, err := fuzzPost(t, r.URL+"/api/tokens", body, "Authorization", "Bearer "+jwt)
		logs := ftb.recent()
		if err != nil {
			if len(body) > 4096 {
				return
			}
			t.Fatalf("POST /api/tokens %q: %v\nreplica log:\n%s", clip(body), err, logs)
		}
		switch status {
		case http.StatusCreated, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusTooManyRequests:
		default:
			t.Fatalf("POST /api/tokens %q: status %d: %s\nreplica log:\n%s", clip(body), status, resp, logs)
		}
		if !json.Valid(resp) {
			t.Fatalf("POST /api/tokens %q: %d answer is not JSON: %q", clip(body), status, resp)
		}
		var a struct {
			Success bool   `json:"success"`
			Error   string `json:"error"`
			Code    string `json:"code"`
			Token   *struct {
				ID          string `json:"id"`
				Name        string `json:"name"`
				Token       string `json:"token"`
				MaskedToken string `json:"maskedToken"`
			} `json:"token"`
		}
		if err := json.Unmarshal(resp, &a); err != nil {
			t.Fatalf("POST /api/tokens %q: %d answer is not a JSON object: %q", clip(body), status, resp)
		}
		if status != http.StatusCreated {
			if a.Success || a.Token != nil || a.Code == "" || a.Error == "" {
				t.Fatalf("POST /api/tokens %q: %d answer %s", clip(body), status, resp)
			}
			return
		}
		var req struct {
			Name *string `json:"name"`
		}
		if err := json.Unmarshal(body, &req); err != nil || req.Name == nil {
			t.Fatalf("POST /api/tokens %q: 201 for a body without a name: %s", clip(body), resp)
		}
		if a.Token == nil || !a.Success || a.Token.ID == "" || a.Token.Name != strings.TrimSpace(*req.Name) ||
			!fuzzTokenPattern.MatchString(a.Token.Token) || a.Token.MaskedToken != a.Token.Token[:12]+"…" {
			t.Fatalf("POST /api/tokens %q: 201 with %s", clip(body), resp)
		}
	})
}

func clip(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}
