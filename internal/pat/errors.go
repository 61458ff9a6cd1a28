package pat

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Errors the service returns; the front doors map them to GraphQL codes and
// HTTP statuses, each in one place. Any other error is internal.
var (
	ErrUnauthenticated = errors.New("authentication required")
	ErrForbidden       = errors.New("not allowed")
	ErrNotFound        = errors.New("token not found")
	// ErrUnavailable means the store could not be reached to answer.
	ErrUnavailable = errors.New("token store unavailable")
)

// Reasons of an InputError.
const (
	ReasonInvalidName       = "INVALID_TOKEN_NAME"
	ReasonInvalidExpiration = "INVALID_EXPIRATION"
	ReasonInvalidPagination = "INVALID_PAGINATION"
	ReasonInvalidGrace      = "INVALID_GRACE_PERIOD"
)

// InputError is a request the caller must change: Reason is machine-readable.
type InputError struct {
	Reason  string
	Message string
}

func (e *InputError) Error() string { return e.Message }

func inputError(reason, format string, args ...any) error {
	return &InputError{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// RateLimitError means the creation quota is used up until ResetAt.
type RateLimitError struct {
	Limit   int
	Window  time.Duration
	ResetAt time.Time
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("token creation limit of %d per day reached; try again after %s",
		e.Limit, e.ResetAt.UTC().Format(time.RFC3339))
}

// RetryAfterSeconds is how long to wait from now until resetAt, in whole
// seconds rounded up, at least 1: the value of Retry-After and
// retryAfterSeconds.
func RetryAfterSeconds(resetAt, now time.Time) int {
	return max(int(math.Ceil(resetAt.Sub(now).Seconds())), 1)
}

// TokenRateLimitError means the token used to authenticate has been used more
// often than its validation rate allows, until ResetAt.
type TokenRateLimitError struct {
	ResetAt time.Time
}

func (e *TokenRateLimitError) Error() string {
	return "this personal access token is used too often; try again after " + e.ResetAt.UTC().Format(time.RFC3339)
}

// MaxTokensError means the user holds as many unexpired tokens as allowed.
type MaxTokensError struct {
	Max int
}

func (e *MaxTokensError) Error() string {
	return fmt.Sprintf("at most %d active tokens are allowed; delete one first", e.Max)
}
