package httpapi

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// The validate route is called by backends on every request they serve, so
// its request and answers are read and written by hand: both shapes are
// fixed, and encoding/json's reflection costs more allocations (five to read
// the body, two to write the answer) than the rest of a cached validation.
// validate_json_test.go checks that every answer is byte for byte what
// json.Marshal writes, and that every body reads as json.Unmarshal reads it.

// decodeToken reads the token of a validate body, {"token": "<token>"}. The
// common body (one member, a token of printable ASCII without escapes) is
// read in place; any other goes to json.Unmarshal, so that what is accepted
// and what is read stays exactly encoding/json's (members in any order or
// case, escapes, duplicates: the last wins, invalid UTF-8 replaced).
func decodeToken(body []byte) (tok string, ok bool) {
	if t, ok := plainTokenBody(body); ok {
		return string(t), true
	}
	var req struct {
		Token *string `json:"token"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Token == nil {
		return "", false
	}
	return *req.Token, true
}

// plainTokenBody returns the token of a body that is exactly
// ws {ws "token" ws : ws "<printable ASCII, no \ or ">" ws } ws, and false for
// any other body. For such a body json.Unmarshal reads the same string.
func plainTokenBody(b []byte) ([]byte, bool) {
	i := skipSpace(b, 0)
	if i == len(b) || b[i] != '{' {
		return nil, false
	}
	i = skipSpace(b, i+1)
	const key = `"token"`
	if len(b)-i < len(key) || string(b[i:i+len(key)]) != key {
		return nil, false
	}
	i = skipSpace(b, i+len(key))
	if i == len(b) || b[i] != ':' {
		return nil, false
	}
	i = skipSpace(b, i+1)
	if i == len(b) || b[i] != '"' {
		return nil, false
	}
	i++
	start := i
	for ; i < len(b) && b[i] != '"'; i++ {
		if c := b[i]; c < 0x20 || c > 0x7e || c == '\\' {
			return nil, false
		}
	}
	if i == len(b) {
		return nil, false
	}
	tok := b[start:i]
	i = skipSpace(b, i+1)
	if i == len(b) || b[i] != '}' {
		return nil, false
	}
	if skipSpace(b, i+1) != len(b) {
		return nil, false
	}
	return tok, true
}

// skipSpace skips JSON's insignificant whitespace from i.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// appendValid appends the VALID answer:
//
//	{"valid":true,"active":true,"code":"VALID","userId":…,"tokenId":…,
//	 "organizationId":…|null,"name":…,"sub":<userId>,"exp":<unix s>|null,
//	 "iat":<unix s>,"token_type":"personal_access_token"}
func appendValid(b []byte, userID, tokenID string, orgID *string, name string, exp *time.Time, iat time.Time) []byte {
	b = append(b, `{"valid":true,"active":true,"code":"VALID","userId":`...)
	b = appendJSONString(b, userID)
	b = append(b, `,"tokenId":`...)
	b = appendJSONString(b, tokenID)
	b = append(b, `,"organizationId":`...)
	if orgID != nil {
		b = appendJSONString(b, *orgID)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"name":`...)
	b = appendJSONString(b, name)
	b = append(b, `,"sub":`...)
	b = appendJSONString(b, userID)
	b = append(b, `,"exp":`...)
	if exp != nil {
		b = strconv.AppendInt(b, exp.Unix(), 10)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"iat":`...)
	b = strconv.AppendInt(b, iat.Unix(), 10)
	return append(b, `,"token_type":"personal_access_token"}`...)
}

// appendInvalid appends every other answer:
// {"valid":false,"active":false,"code":<code>[,"retryAfterSeconds":n]}, the
// count only when it is not zero.
func appendInvalid(b []byte, code string, retryAfter int) []byte {
	b = append(b, `{"valid":false,"active":false,"code":`...)
	b = appendJSONString(b, code)
	if retryAfter != 0 {
		b = append(b, `,"retryAfterSeconds":`...)
		b = strconv.AppendInt(b, int64(retryAfter), 10)
	}
	return append(b, '}')
}

// appendJSONString appends s as encoding/json writes a string (HTML
// escaping on, as json.Marshal has it): <, >, & and control characters as
// \u00XX (but \b \f \n \r \t), " and \ escaped, invalid UTF-8 as \ufffd,
// U+2028 and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"
