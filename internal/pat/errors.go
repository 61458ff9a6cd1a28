package pat

import (
	"errors"
	"fmt"
	"time"

	"github.com/alternatefutures/patd/internal/limit"
	"github.com/alternatefutures/patd/internal/token"
)

// Errors the token operations return. The front doors map them to GraphQL
// codes and HTTP statuses, each in one place; any other error is internal.
var (
	ErrUnauthenticated = errors.New("authentication required")
	ErrForbidden       = errors.New("not allowed")
	ErrNotFound        = errors.New("token not found")
	// ErrUnavailable means something patd depends on (the token store, the
	// auth service) could not be reached to answer.
	ErrUnavailable = errors.New("temporarily unavailable")
	// ErrNotOrgMember refuses an organization token to a non-member.
	ErrNotOrgMember = fmt.Errorf("%w: not a member of this organization", ErrForbidden)
)

// Reason says, in a machine-readable way, what is wrong with a request's input.
type Reason string

// Reasons of an InputError.
const (
	ReasonInvalidName         Reason = "INVALID_TOKEN_NAME"
	ReasonInvalidExpiration   Reason = "INVALID_EXPIRATION"
	ReasonInvalidPagination   Reason = "INVALID_PAGINATION"
	ReasonInvalidGrace        Reason = "INVALID_GRACE_PERIOD"
	ReasonInvalidUser         Reason = "INVALID_USER"
	ReasonInvalidOrganization Reason = "INVALID_ORGANIZATION_ID"
)

// Reasons front doors give with ErrNotOrgMember and ErrSessionExpired.
const (
	ReasonNotOrgMember   Reason = "NOT_ORG_MEMBER"
	ReasonSessionExpired Reason = "SESSION_EXPIRED"
)

// InputError is a request the caller must change.
type InputError struct {
	Reason  Reason
	Message string
}

func (e *InputError) Error() string { return e.Message }

func inputError(reason Reason, format string, args ...any) error {
	return &InputError{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// Messages of the input errors every front door reports alike.
var (
	msgInvalidName       = fmt.Sprintf("token name must be 1 to %d letters, digits, spaces or any of %s", token.MaxNameLength, token.NameSymbols)
	msgInvalidExpiration = fmt.Sprintf("expiresAt must be in the future and at most %d years ahead", token.MaxLifetimeYears)
)

// ErrInvalidDate is an expiresAt that is not a date at all; front doors that
// parse dates themselves report it with InvalidDate.
var ErrInvalidDate = &InputError{Reason: ReasonInvalidExpiration,
	Message: "expiresAt must be an RFC 3339 string or an integer of epoch milliseconds"}

// QuotaError means the user's creation quota is used up until ResetAt.
type QuotaError struct {
	Limit   int
	Window  time.Duration
	ResetAt time.Time
}

func (e *QuotaError) Error() string {
	return fmt.Sprintf("token creation limit of %d per %s reached; try again after %s",
		e.Limit, limit.DescribeWindow(e.Window), e.ResetAt.UTC().Format(time.RFC3339))
}

// Usage is where the user stands against the quota: nothing remaining.
func (e *QuotaError) Usage() limit.Usage {
	return limit.Usage{Limit: e.Limit, Window: e.Window, ResetAt: e.ResetAt}
}

// RateError means something was done more often than its rate allows, until
// ResetAt: by default, the token used to authenticate was validated too often.
type RateError struct {
	ResetAt time.Time
	// Message says what was done too often; empty for token validations.
	Message string
}

func (e *RateError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "this personal access token is used too often"
	}
	return msg + "; try again after " + e.ResetAt.UTC().Format(time.RFC3339)
}

// MaxActiveError means the user holds as many unexpired tokens as allowed.
type MaxActiveError struct {
	Max int
}

func (e *MaxActiveError) Error() string {
	return fmt.Sprintf("at most %d active tokens are allowed; delete one first", e.Max)
}
