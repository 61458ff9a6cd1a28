package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// secretPrefix starts a Standard Webhooks signing secret: whsec_ followed by
// the base64 of the key.
const secretPrefix = "whsec_"

// ParseSecret decodes a Standard Webhooks secret ("whsec_" + base64 key)
// into the HMAC key. Keys shorter than 24 bytes are refused: the spec asks
// for 24 to 64 random bytes.
func ParseSecret(s string) ([]byte, error) {
	b64, ok := strings.CutPrefix(strings.TrimSpace(s), secretPrefix)
	if !ok {
		return nil, errors.New("want whsec_ followed by the base64 of the key")
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		if key, err = base64.RawStdEncoding.DecodeString(b64); err != nil {
			return nil, errors.New("the part after whsec_ is not base64")
		}
	}
	if len(key) < 24 {
		return nil, errors.New("the key must be at least 24 bytes")
	}
	return key, nil
}

// Sign is the webhook-signature header value of one message under the
// Standard Webhooks scheme: "v1," + base64(HMAC-SHA256(key, id.timestamp.body)).
func Sign(key []byte, id string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(strconv.FormatInt(timestamp, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Verify checks a webhook-signature header (one or more space-separated
// "v1,<sig>" entries, as during a secret rotation) in constant time. It is
// what a receiver does; patd's tests use it as their receiver.
func Verify(key []byte, id string, timestamp int64, body []byte, header string) bool {
	want := Sign(key, id, timestamp, body)
	ok := false
	for _, sig := range strings.Fields(header) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			ok = true
		}
	}
	return ok
}
