package auth

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// numericDate makes of a number the time jwt.NumericDate makes, to the
// nanosecond, and refuses the numbers it refuses.
func TestNumericDateAsTheLibrary(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"0", "-0", "-1", "-1.5", "1700000000", "1700000000.5", "1.7e9", "17E8",
		"1700000000.123456789", "1700000000.999999999999", "9223372036854775807", "1e400",
	} {
		var got numericDate
		var want jwt.NumericDate
		gotErr, wantErr := got.UnmarshalJSON([]byte(s)), want.UnmarshalJSON([]byte(s))
		if (gotErr != nil) != (wantErr != nil) || gotErr == nil && !got.t.Equal(want.Time) {
			t.Errorf("%s: got %v (err %v), want %v (err %v)", s, got.t, gotErr, want.Time, wantErr)
		}
	}
}
