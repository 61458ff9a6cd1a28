package auth_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/alternatefutures/patd/internal/auth"
)

// The digests made once at start accept exactly what the secrets do, secrets
// longer than the stack buffer included, and checking one allocates nothing:
// no secret is hashed again per request.
func TestSecretDigests(t *testing.T) {
	long := strings.Repeat("s", 300)
	secrets := auth.ServiceSecrets{[]byte("current-secret-0123456789abcdefghijkl"), []byte(long)}
	digests := secrets.Digests()
	for _, tc := range []struct {
		presented string
		want      bool
	}{
		{"current-secret-0123456789abcdefghijkl", true},
		{long, true},
		{long + "x", false},
		{long[:128], false},
		{"current-secret-0123456789abcdefghijk", false},
		{"", false},
	} {
		r := httptest.NewRequest(http.MethodPost, "/validate", nil)
		r.Header.Set("X-Af-Introspection-Secret", tc.presented)
		if got := digests.Check(r); got != tc.want {
			t.Errorf("digests: %.20q… = %v, want %v", tc.presented, got, tc.want)
		}
		if got := secrets.Digests().Check(r); got != tc.want {
			t.Errorf("secrets: %.20q… = %v, want %v", tc.presented, got, tc.want)
		}
	}

	r := httptest.NewRequest(http.MethodPost, "/validate", nil)
	r.Header.Set("Authorization", "Bearer current-secret-0123456789abcdefghijkl")
	if n := testing.AllocsPerRun(100, func() {
		if !digests.Check(r) {
			t.Fatal("refused")
		}
	}); n != 0 {
		t.Errorf("a check allocates %v times", n)
	}
}
