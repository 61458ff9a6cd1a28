package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// validAnswer and invalidAnswer are the answers' shapes as encoding/json
// writes them: the reference the hand-written encoder must match byte for
// byte.
type validAnswer struct {
	Valid          bool    `json:"valid"`
	Active         bool    `json:"active"`
	Code           string  `json:"code"`
	UserID         string  `json:"userId"`
	TokenID        string  `json:"tokenId"`
	OrganizationID *string `json:"organizationId"`
	Name           string  `json:"name"`
	Sub            string  `json:"sub"`
	Exp            *int64  `json:"exp"`
	Iat            int64   `json:"iat"`
	TokenType      string  `json:"token_type"`
}

type invalidAnswer struct {
	Valid      bool   `json:"valid"`
	Active     bool   `json:"active"`
	Code       string `json:"code"`
	RetryAfter int    `json:"retryAfterSeconds,omitempty"`
}

func checkValidAnswer(t *testing.T, userID, tokenID string, org *string, name string, exp *time.Time, iat time.Time) {
	t.Helper()
	want := validAnswer{Valid: true, Active: true, Code: "VALID", UserID: userID, TokenID: tokenID,
		OrganizationID: org, Name: name, Sub: userID, Iat: iat.Unix(), TokenType: "personal_access_token"}
	if exp != nil {
		e := exp.Unix()
		want.Exp = &e
	}
	wb, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if got := appendValid(nil, userID, tokenID, org, name, exp, iat); !bytes.Equal(got, wb) {
		t.Fatalf("appendValid:\n got %s\nwant %s", got, wb)
	}
}

func TestAnswersAsEncodingJSON(t *testing.T) {
	iat := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	exp := iat.Add(24 * time.Hour)
	before := time.Unix(-86400*400, 0)
	org := "org_1"
	for _, name := range []string{
		"ci", "", "Café CI", `quote " and \ backslash`, "<script>&amp;</script>", "tab\tnew\nline\r\b\f",
		"\x00\x01\x1f\x7f", "bad \xff utf-8 \xc3", "line\u2028para\u2029", "emoji 🔑", strings.Repeat("é", 100),
	} {
		checkValidAnswer(t, "user-1", "0190a1b2-c3d4-7e5f-8a9b-000000000001", nil, name, nil, iat)
		checkValidAnswer(t, name, name, &name, name, &exp, iat)
		checkValidAnswer(t, "u", "t", &org, name, &before, before)
	}
	for _, c := range []struct {
		code  string
		retry int
	}{{"NOT_FOUND", 0}, {"EXPIRED", 0}, {"MALFORMED", 0}, {"UNAVAILABLE", 0}, {"RATE_LIMITED", 42}, {"RATE_LIMITED", 1}} {
		wb, _ := json.Marshal(invalidAnswer{Code: c.code, RetryAfter: c.retry})
		if got := appendInvalid(nil, c.code, c.retry); !bytes.Equal(got, wb) {
			t.Errorf("appendInvalid(%s, %d) = %s, want %s", c.code, c.retry, got, wb)
		}
	}
}

// FuzzAnswersAsEncodingJSON: any strings, any times.
func FuzzAnswersAsEncodingJSON(f *testing.F) {
	f.Add("user", "id", "org", "name", int64(1700000000), int64(1800000000), true)
	f.Add("\xff", "<>&", "\u2028", "\"\\", int64(-1), int64(0), false)
	f.Fuzz(func(t *testing.T, userID, tokenID, org, name string, iat, exp int64, withOrg bool) {
		var orgp *string
		var expp *time.Time
		if withOrg {
			orgp = &org
			e := time.Unix(exp, 0)
			expp = &e
		}
		checkValidAnswer(t, userID, tokenID, orgp, name, expp, time.Unix(iat, 0))
	})
}

// decodeToken reads every body as json.Unmarshal reads it into
// {Token *string}: the same token, or a refusal where it refuses (or finds no
// token).
func checkDecode(t *testing.T, body []byte) {
	t.Helper()
	var req struct {
		Token *string `json:"token"`
	}
	err := json.Unmarshal(body, &req)
	wantOK := err == nil && req.Token != nil
	got, ok := decodeToken(body)
	switch {
	case ok != wantOK:
		t.Fatalf("decodeToken(%q): ok %v, encoding/json %v (%v)", body, ok, wantOK, err)
	case ok && got != *req.Token:
		t.Fatalf("decodeToken(%q) = %q, encoding/json %q", body, got, *req.Token)
	}
}

func TestDecodeTokenAsEncodingJSON(t *testing.T) {
	for _, body := range []string{
		`{"token":"af_live_abc"}`, ` { "token" : "af_live_abc" } `, "{\n\t\"token\":\r\n\"x\"}\n",
		`{"token":""}`, `{"token":"a\"b"}`, `{"token":"a\\b"}`, `{"token":"\u0061"}`, `{"Token":"x"}`, `{"TOKEN":"x"}`,
		`{"token":"x","token":"y"}`, `{"other":1,"token":"x"}`, `{"token":"x","other":1}`, `{"token":null}`,
		`{"token":1}`, `{"token":"x"`, `{"token":"x"}}`, `{"token":"x"} x`, `[]`, `null`, ``, `{}`, `{"token":"é"}`,
		"{\"token\":\"\xff\"}", "{\"token\":\"a\x01\"}", `{"token":"x",}`, `{"token" "x"}`, `{"tok":"x"}`,
		`{"token":"af_live_` + strings.Repeat("A", 36) + `"}`, "\ufeff{\"token\":\"x\"}", `{"token":"x"}` + "\x00",
	} {
		checkDecode(t, []byte(body))
	}
}

func FuzzDecodeTokenAsEncodingJSON(f *testing.F) {
	f.Add([]byte(`{"token":"af_live_abc"}`))
	f.Add([]byte(` {"token" : "x\u0041"} `))
	f.Add([]byte(`{"TOKEN":"x","token":"y"}`))
	f.Fuzz(func(t *testing.T, body []byte) { checkDecode(t, body) })
}

// readSmallBody reads a body that states its length without readBody, and
// still answers 413 to one over the limit and 400 to one cut short.
func TestReadSmallBody(t *testing.T) {
	read := func(body string, length int64) (string, int, bool) {
		r := httptest.NewRequest(http.MethodPost, "/validate", strings.NewReader(body))
		r.ContentLength = length
		w := httptest.NewRecorder()
		got, ok := readBody(w, r, 16, nil)
		return string(got), w.Code, ok
	}
	if got, _, ok := read(`{"token":"x"}`, 13); !ok || got != `{"token":"x"}` {
		t.Errorf("stated length: %q %v", got, ok)
	}
	if got, _, ok := read(`{"token":"x"}`, -1); !ok || got != `{"token":"x"}` {
		t.Errorf("unknown length: %q %v", got, ok)
	}
	if _, code, ok := read(strings.Repeat("x", 17), 17); ok || code != http.StatusRequestEntityTooLarge {
		t.Errorf("over the limit: %d %v", code, ok)
	}
	if _, code, ok := read(strings.Repeat("x", 17), -1); ok || code != http.StatusRequestEntityTooLarge {
		t.Errorf("over the limit, unknown length: %d %v", code, ok)
	}
	if _, code, ok := read("short", 10); ok || code != http.StatusBadRequest {
		t.Errorf("cut short: %d %v", code, ok)
	}
}
