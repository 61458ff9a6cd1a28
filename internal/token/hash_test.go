package token

import (
	"crypto/sha256"
	"strings"
	"testing"
)

// Hash is SHA-256 of the whole token whatever its length, and hashing a token
// of patd's length allocates nothing (it runs on every validation).
func TestHashAllocatesNothing(t *testing.T) {
	for _, tok := range []string{"", "af_live_x", strings.Repeat("a", 64), strings.Repeat("b", 65), strings.Repeat("c", 512)} {
		if Hash(tok) != sha256.Sum256([]byte(tok)) {
			t.Errorf("Hash of %d bytes differs from SHA-256", len(tok))
		}
	}
	tok, err := New(PrefixLive)
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _ = Hash(tok) }); n != 0 {
		t.Errorf("Hash allocates %v times", n)
	}
}
