package legacy

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

const camelHeader = "id,name,token,userId,expiresAt,lastUsedAt,createdAt,updatedAt\n"

func utc(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
	return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
}

// result is what one call of Next gave.
type result struct {
	tok Token
	err error
}

func readAll(t *testing.T, input string) []result {
	t.Helper()
	r, err := NewReader(strings.NewReader(input))
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	var out []result
	for i := 0; i < 1000; i++ {
		tok, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		var rowErr *RowError
		if err != nil && !errors.As(err, &rowErr) {
			t.Fatalf("Next: unexpected error %v", err)
		}
		out = append(out, result{tok, err})
	}
	t.Fatal("Next never returned io.EOF")
	return nil
}

func timePtrEqual(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

func fmtPtr(p *time.Time) string {
	if p == nil {
		return "nil"
	}
	return p.Format(time.RFC3339Nano)
}

func ptr(t time.Time) *time.Time { return &t }

func checkToken(t *testing.T, got, want Token) {
	t.Helper()
	if got.Line != want.Line || got.ID != want.ID || got.Name != want.Name || got.Secret != want.Secret || got.UserID != want.UserID {
		t.Errorf("token = {Line:%d ID:%q Name:%q Secret:%q UserID:%q}, want {Line:%d ID:%q Name:%q Secret:%q UserID:%q}",
			got.Line, got.ID, got.Name, got.Secret, got.UserID, want.Line, want.ID, want.Name, want.Secret, want.UserID)
	}
	for _, f := range []struct {
		name      string
		got, want *time.Time
	}{
		{"ExpiresAt", got.ExpiresAt, want.ExpiresAt},
		{"LastUsedAt", got.LastUsedAt, want.LastUsedAt},
		{"CreatedAt", got.CreatedAt, want.CreatedAt},
		{"UpdatedAt", got.UpdatedAt, want.UpdatedAt},
	} {
		if !timePtrEqual(f.got, f.want) {
			t.Errorf("line %d %s = %s, want %s", want.Line, f.name, fmtPtr(f.got), fmtPtr(f.want))
		}
		if f.got != nil && f.got.Location() != time.UTC {
			t.Errorf("line %d %s location = %v, want UTC", want.Line, f.name, f.got.Location())
		}
	}
}

func TestReaderHeaders(t *testing.T) {
	row := "tok1,CI token,af_live_0123456789abcdefghijABCDEFGHIJkl,user1,2026-01-31 12:00:00.123,,2025-01-31 12:00:00+02,2025-01-31T12:00:00Z\n"
	want := Token{
		Line:      2,
		ID:        "tok1",
		Name:      "CI token",
		Secret:    "af_live_0123456789abcdefghijABCDEFGHIJkl",
		UserID:    "user1",
		ExpiresAt: ptr(utc(2026, 1, 31, 12, 0, 0, 123e6)),
		CreatedAt: ptr(utc(2025, 1, 31, 10, 0, 0, 0)),
		UpdatedAt: ptr(utc(2025, 1, 31, 12, 0, 0, 0)),
	}
	tests := []struct {
		name  string
		input string
		want  Token
	}{
		{"camelCase", camelHeader + row, want},
		{"snake_case", "id,name,token,user_id,expires_at,last_used_at,created_at,updated_at\n" + row, want},
		{"upper case", "ID,NAME,TOKEN,USERID,EXPIRESAT,LASTUSEDAT,CREATEDAT,UPDATEDAT\n" + row, want},
		{"byte order mark", "\ufeff" + camelHeader + row, want},
		{"spaces around names", " id , name , token , userId , expiresAt , lastUsedAt , createdAt , updatedAt \n" + row, want},
		{"quoted header", `"id","name","token","userId","expiresAt","lastUsedAt","createdAt","updatedAt"` + "\n" + row, want},
		{"CRLF", strings.ReplaceAll(camelHeader+row, "\n", "\r\n"), want},
		{"no final newline", camelHeader + strings.TrimSuffix(row, "\n"), want},
		{
			"reordered with extra columns",
			"scopes,updatedAt,userId,token,extra,id,createdAt,name,lastUsedAt,expiresAt\n" +
				"read,2025-01-31T12:00:00Z,user1,af_live_0123456789abcdefghijABCDEFGHIJkl,zzz,tok1,2025-01-31 12:00:00+02,CI token,,2026-01-31 12:00:00.123\n",
			want,
		},
		{
			"only the required columns",
			"token,userId,id\naf_live_0123456789abcdefghijABCDEFGHIJkl,user1,tok1\n",
			Token{Line: 2, ID: "tok1", Secret: "af_live_0123456789abcdefghijABCDEFGHIJkl", UserID: "user1"},
		},
		{
			"fields trimmed",
			camelHeader + " tok1 , CI token ,  af_live_0123456789abcdefghijABCDEFGHIJkl , user1 , 2026-01-31 12:00:00.123 ,  , 2025-01-31 12:00:00+02 , 2025-01-31T12:00:00Z \n",
			want,
		},
		{
			"quoted fields",
			camelHeader + `"tok1","CI token","af_live_0123456789abcdefghijABCDEFGHIJkl","user1","2026-01-31 12:00:00.123","","2025-01-31 12:00:00+02","2025-01-31T12:00:00Z"` + "\n",
			want,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := readAll(t, tt.input)
			if len(res) != 1 {
				t.Fatalf("got %d rows, want 1", len(res))
			}
			if res[0].err != nil {
				t.Fatalf("Next: %v", res[0].err)
			}
			checkToken(t, res[0].tok, tt.want)
		})
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2025-01-31 12:00:00.123", utc(2025, 1, 31, 12, 0, 0, 123e6)},
		{"2025-01-31 12:00:00", utc(2025, 1, 31, 12, 0, 0, 0)},
		{"2025-01-31 12:00:00.123456", utc(2025, 1, 31, 12, 0, 0, 123456e3)},
		{"2025-01-31 12:00:00.5", utc(2025, 1, 31, 12, 0, 0, 5e8)},
		{"2025-01-31 12:00:00.123+00", utc(2025, 1, 31, 12, 0, 0, 123e6)},
		{"2025-01-31 12:00:00+00", utc(2025, 1, 31, 12, 0, 0, 0)},
		{"2025-01-31 12:00:00+02", utc(2025, 1, 31, 10, 0, 0, 0)},
		{"2025-01-31 12:00:00-07", utc(2025, 1, 31, 19, 0, 0, 0)},
		{"2025-01-31 12:00:00.123456+02", utc(2025, 1, 31, 10, 0, 0, 123456e3)},
		{"2025-01-31 12:00:00+05:30", utc(2025, 1, 31, 6, 30, 0, 0)},
		{"2025-01-31 12:00:00.1-09:30", utc(2025, 1, 31, 21, 30, 0, 1e8)},
		{"2025-01-31 01:00:00+02", utc(2025, 1, 30, 23, 0, 0, 0)},
		{"2025-01-31T12:00:00Z", utc(2025, 1, 31, 12, 0, 0, 0)},
		{"2025-01-31T12:00:00.123Z", utc(2025, 1, 31, 12, 0, 0, 123e6)},
		{"2025-01-31T14:00:00+02:00", utc(2025, 1, 31, 12, 0, 0, 0)},
		{"2025-01-31T12:00:00.123456789-01:00", utc(2025, 1, 31, 13, 0, 0, 123456789)},
		{"2025-01-31T12:00:00", utc(2025, 1, 31, 12, 0, 0, 0)},
		{"2025-01-31T12:00:00.123", utc(2025, 1, 31, 12, 0, 0, 123e6)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTime(tt.in)
			if err != nil {
				t.Fatalf("ParseTime(%q): %v", tt.in, err)
			}
			if !got.Equal(tt.want) {
				t.Fatalf("ParseTime(%q) = %s, want %s", tt.in, got.Format(time.RFC3339Nano), tt.want.Format(time.RFC3339Nano))
			}
			if got.Location() != time.UTC {
				t.Fatalf("ParseTime(%q) location = %v, want UTC", tt.in, got.Location())
			}
		})
	}
}

func TestParseTimeRejects(t *testing.T) {
	for _, in := range []string{
		"",
		"yesterday",
		"2025-13-01 00:00:00",
		"2025-02-30 00:00:00",
		"2025-01-31 25:00:00",
		"31/01/2025 12:00:00",
		"2025-01-31",
		"12:00:00",
		"1738324800000",
		"2025-01-31 12:00:00 +02",
		"2025-01-31 12:00:00+02 garbage",
		strings.Repeat("2025", 100),
	} {
		if got, err := ParseTime(in); err == nil {
			t.Errorf("ParseTime(%q) = %s, nil; want an error", in, got)
		}
	}
	_, err := ParseTime(strings.Repeat("x", 5000))
	if err == nil || len(err.Error()) > 200 {
		t.Errorf("error for a long input should be short, got %v", err)
	}
}

func TestReaderTimestampsInRows(t *testing.T) {
	input := camelHeader +
		"a,n,s,u,,,,\n" +
		"b,n,s,u,2025-01-31 12:00:00.123,2025-01-31 12:00:00.123+00,2025-01-31 12:00:00+02,2025-01-31T12:00:00+01:00\n"
	res := readAll(t, input)
	if len(res) != 2 {
		t.Fatalf("got %d rows, want 2", len(res))
	}
	for _, r := range res {
		if r.err != nil {
			t.Fatalf("Next: %v", r.err)
		}
	}
	checkToken(t, res[0].tok, Token{Line: 2, ID: "a", Name: "n", Secret: "s", UserID: "u"})
	checkToken(t, res[1].tok, Token{
		Line: 3, ID: "b", Name: "n", Secret: "s", UserID: "u",
		ExpiresAt:  ptr(utc(2025, 1, 31, 12, 0, 0, 123e6)),
		LastUsedAt: ptr(utc(2025, 1, 31, 12, 0, 0, 123e6)),
		CreatedAt:  ptr(utc(2025, 1, 31, 10, 0, 0, 0)),
		UpdatedAt:  ptr(utc(2025, 1, 31, 11, 0, 0, 0)),
	})
}

func TestReaderBadRows(t *testing.T) {
	input := camelHeader + // line 1
		"good1,n,s1,u1,,,,\n" + // line 2
		",n,s2,u2,,,,\n" + // line 3: missing id
		"id3,n,,u3,,,,\n" + // line 4: missing token
		"id4,n,s4,,,,,\n" + // line 5: missing userId
		"id5,n,s5,u5,not a time,,,\n" + // line 6: unreadable expiresAt
		"id6,\"multi\nline name\",s6,u6,,,,\n" + // lines 7-8: a quoted newline, against the name rule
		"   ,n,s9,u9,,,,\n" + // line 9: blank id
		"id10,n,s10,u10,,2025-99-99 00:00:00,,\n" + // line 10: unreadable lastUsedAt
		"\n" + // line 11: empty, skipped
		"id12,n,s12,u12,,,2025-01-31 12:00:00,\n" + // line 12: good
		"id13,n,s13,u13,,,,31/01/2025\n" + // line 13: unreadable updatedAt
		"id14,n,s14,u14,,,yesterday,\n" + // line 14: unreadable createdAt
		"id15,n\n" + // line 15: short row, missing token
		"id16,\"a\"b,s16,u16,,,,\n" + // line 16: bare quote
		"id17,n,s17,u17,,,,\n" // line 17: good
	type want struct {
		line   int
		id     string // for good rows
		reason string // substring of the RowError, for bad rows
	}
	wants := []want{
		{2, "good1", ""},
		{3, "", "missing id"},
		{4, "", "missing token"},
		{5, "", "missing userId"},
		{6, "", "expiresAt"},
		{7, "", "name rule"},
		{9, "", "missing id"},
		{10, "", "lastUsedAt"},
		{12, "id12", ""},
		{13, "", "updatedAt"},
		{14, "", "createdAt"},
		{15, "", "missing token"},
		{16, "", "CSV"},
		{17, "id17", ""},
	}
	res := readAll(t, input)
	if len(res) != len(wants) {
		for i, r := range res {
			t.Logf("result %d: line %d id %q err %v", i, r.tok.Line, r.tok.ID, r.err)
		}
		t.Fatalf("got %d results, want %d", len(res), len(wants))
	}
	for i, w := range wants {
		r := res[i]
		if w.reason == "" {
			if r.err != nil {
				t.Errorf("line %d: unexpected error %v", w.line, r.err)
				continue
			}
			if r.tok.Line != w.line || r.tok.ID != w.id {
				t.Errorf("result %d: line %d id %q, want line %d id %q", i, r.tok.Line, r.tok.ID, w.line, w.id)
			}
			continue
		}
		var rowErr *RowError
		if !errors.As(r.err, &rowErr) {
			t.Errorf("result %d: got %v (token %+v), want a *RowError at line %d", i, r.err, r.tok, w.line)
			continue
		}
		if rowErr.Line != w.line {
			t.Errorf("result %d: RowError line %d, want %d (%v)", i, rowErr.Line, w.line, rowErr)
		}
		if !strings.Contains(rowErr.Error(), w.reason) {
			t.Errorf("result %d: RowError %q does not mention %q", i, rowErr.Error(), w.reason)
		}
		if !strings.HasPrefix(rowErr.Error(), "line ") {
			t.Errorf("result %d: RowError %q does not start with its line", i, rowErr.Error())
		}
		if r.tok.ID != "" || r.tok.Secret != "" {
			t.Errorf("result %d: a rejected row returned a token %+v", i, r.tok)
		}
	}
}

func TestReaderUnterminatedQuote(t *testing.T) {
	input := camelHeader + "good,n,s,u,,,,\n" + "bad,\"never closed,s,u,,,,\nmore,n,s,u,,,,\n"
	res := readAll(t, input)
	if len(res) != 2 {
		t.Fatalf("got %d results, want 2", len(res))
	}
	if res[0].err != nil || res[0].tok.Line != 2 {
		t.Fatalf("first row: %+v, %v", res[0].tok, res[0].err)
	}
	var rowErr *RowError
	if !errors.As(res[1].err, &rowErr) || rowErr.Line != 3 {
		t.Fatalf("second result = %v, want a RowError at line 3", res[1].err)
	}
}

func TestReaderLineNumbersAfterMultilineHeaderAndFields(t *testing.T) {
	input := "id,\"na\nme\",token,userId\n" + // lines 1-2
		"a,\"x\ny\nz\",s,u\n" + // lines 3-5
		",n,s,u\n" + // line 6: missing id
		"b,n,s,u\n" // line 7
	res := readAll(t, input)
	if len(res) != 3 {
		t.Fatalf("got %d results, want 3", len(res))
	}
	if res[0].err != nil || res[0].tok.Line != 3 || res[0].tok.ID != "a" {
		t.Errorf("first: %+v, %v; want line 3", res[0].tok, res[0].err)
	}
	var rowErr *RowError
	if !errors.As(res[1].err, &rowErr) || rowErr.Line != 6 {
		t.Errorf("second: %v; want a RowError at line 6", res[1].err)
	}
	if res[2].err != nil || res[2].tok.Line != 7 || res[2].tok.ID != "b" {
		t.Errorf("third: %+v, %v; want line 7", res[2].tok, res[2].err)
	}
}

func TestReaderEmptyBody(t *testing.T) {
	r, err := NewReader(strings.NewReader(camelHeader))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := r.Next(); !errors.Is(err, io.EOF) {
			t.Fatalf("Next on an empty export = %v, want io.EOF", err)
		}
	}
}

func TestNewReaderErrors(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  string // substring of the error
	}{
		{"empty file", "", "header"},
		{"no id column", "name,token,userId\nn,s,u\n", "id"},
		{"no token column", "id,name,userId\na,n,u\n", "token"},
		{"no userId column", "id,name,token\na,n,s\n", "userId"},
		{"user instead of userId", "id,token,user\na,s,u\n", "userId"},
		{"only unknown columns", "foo,bar\n1,2\n", "column"},
		{"tokenHash is not token", "id,tokenHash,userId\na,s,u\n", "token"},
		{"unreadable header", "id,\"token,userId\n", "header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewReader(strings.NewReader(tt.input))
			if err == nil {
				t.Fatalf("NewReader = %v, nil; want an error", r)
			}
			var rowErr *RowError
			if errors.As(err, &rowErr) {
				t.Fatalf("NewReader error %v is a RowError; it must stop the import", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewReader error %q does not mention %q", err, tt.want)
			}
		})
	}
}

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errors.New("disk on fire")
	}
	f.n--
	return copy(p, camelHeader), nil
}

func TestReaderIOErrorIsNotRowError(t *testing.T) {
	r, err := NewReader(&failingReader{n: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Next()
	var rowErr *RowError
	if err == nil || errors.Is(err, io.EOF) || errors.As(err, &rowErr) {
		t.Fatalf("Next after an I/O error = %v; want that error, not EOF or a RowError", err)
	}
}

func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"",
		camelHeader,
		camelHeader + "tok1,CI,af_live_x,user1,2026-01-31 12:00:00.123,,2025-01-31 12:00:00+02,2025-01-31T12:00:00Z\n",
		"id,name,token,user_id,expires_at,last_used_at,created_at,updated_at\r\na,n,s,u,,,,\r\n",
		"\ufeff" + camelHeader + ",n,s,u,,,,\nid,n,,u,,,,\nid,n,s,,,,,\nid,n,s,u,garbage,,,\n",
		camelHeader + "a,\"multi\nline\",s,u,,,,\nb,n,s,u,,,,\n",
		camelHeader + "a,\"never closed,s,u\n",
		camelHeader + "a,b\"c,s,u\n\n\nd,n,s,u\n",
		"token,userId,id\ns,u,a\n \t, , \n",
		"id,token,userId\n\"\"\"\",\"\",\"x\"\n",
		"id,token,userId\na,s,u,extra,extra\nb\n",
		"id,token,userId,createdAt\na,s,u,2025-01-31 12:00:00.999999999+14\n",
		"id,id,token,token,userId\na,b,c,d,e\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		last := 1
		for i := 0; i < 10000; i++ {
			tok, err := r.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			var rowErr *RowError
			if errors.As(err, &rowErr) {
				if rowErr.Line <= last {
					t.Fatalf("RowError at line %d after line %d", rowErr.Line, last)
				}
				last = rowErr.Line
				continue
			}
			if err != nil {
				return
			}
			if tok.ID == "" || tok.Secret == "" || tok.UserID == "" {
				t.Fatalf("token with an empty required field: %+v", tok)
			}
			for _, s := range []string{tok.ID, tok.Secret, tok.UserID, tok.Name} {
				if s != strings.TrimSpace(s) {
					t.Fatalf("field %q is not trimmed", s)
				}
			}
			if tok.Line <= last {
				t.Fatalf("token at line %d after line %d", tok.Line, last)
			}
			last = tok.Line
			for _, ts := range []*time.Time{tok.ExpiresAt, tok.LastUsedAt, tok.CreatedAt, tok.UpdatedAt} {
				if ts != nil && ts.Location() != time.UTC {
					t.Fatalf("timestamp %s is not UTC", ts)
				}
			}
		}
	})
}

// PostgreSQL text holds neither invalid UTF-8 nor NUL: such a row is rejected
// on its own instead of failing the whole import.
func TestReaderRejectsFieldsPostgreSQLCannotStore(t *testing.T) {
	in := "id,name,token,userId\n" +
		"a,ok,tok-a,u1\n" +
		"b,bad \xff name,tok-b,u1\n" +
		"c,nul\x00,tok-c,u1\n" +
		"d,ok,tok-d,u1\n"
	r, err := NewReader(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	var bad []int
	for {
		tok, err := r.Next()
		if err == io.EOF {
			break
		}
		var rowErr *RowError
		if errors.As(err, &rowErr) {
			bad = append(bad, rowErr.Line)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tok.ID)
	}
	if strings.Join(ids, ",") != "a,d" || len(bad) != 2 || bad[0] != 3 || bad[1] != 4 {
		t.Errorf("good rows %v, rejected lines %v; want a,d and 3,4", ids, bad)
	}
}
