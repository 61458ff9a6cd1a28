package graph

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/alternatefutures/patd/internal/auth"
	"github.com/alternatefutures/patd/internal/date"
	"github.com/alternatefutures/patd/internal/limit"
	"github.com/alternatefutures/patd/internal/pat"
	"github.com/alternatefutures/patd/internal/requestinfo"
)

// Codes in extensions.code.
const (
	codeUnauthenticated = "UNAUTHENTICATED"
	codeForbidden       = "FORBIDDEN"
	codeNotFound        = "NOT_FOUND"
	codeBadUserInput    = "BAD_USER_INPUT"
	codeRateLimited     = "RATE_LIMIT_EXCEEDED"
	codeMaxTokens       = "MAX_TOKENS_EXCEEDED"
	codeInternal        = "INTERNAL_SERVER_ERROR"
	codeValidation      = "GRAPHQL_VALIDATION_FAILED"
	codeUnavailable     = "UNAVAILABLE"
)

// errorPresenter maps every error a resolver returns to its GraphQL code, in
// this one place. Errors it does not know are internal: the caller gets a
// generic message and the log gets the detail with the request id. Errors
// about the request itself are the client's: never internal, never logged,
// their messages bounded, and, unless suggest, without gqlparser's "Did you
// mean" (with introspection off, suggestions would hand the schema out one
// guess at a time).
func errorPresenter(log *slog.Logger, suggest bool) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		// An error gqlgen raised about the request itself (undecodable body,
		// an argument of the wrong type) is a *gqlerror.Error wrapping nothing;
		// resolver errors always wrap their cause. Tell them apart before the
		// default presenter fills in fields.
		var gqlErr *gqlerror.Error
		aboutRequest := errors.As(err, &gqlErr) && gqlErr.Err == nil && gqlErr.Extensions["code"] == nil
		gerr := graphql.DefaultErrorPresenter(ctx, err)
		if gerr.Extensions == nil {
			gerr.Extensions = map[string]any{}
		}
		if errors.Is(err, pat.ErrUnavailable) && logBudgetFrom(ctx).take() {
			log.WarnContext(ctx, "graphql: dependency unavailable", "error", err,
				"request_id", requestinfo.FromContext(ctx).ID)
		}
		if msg, ext, ok := domainError(err); ok {
			gerr.Message = msg
			for k, v := range ext {
				gerr.Extensions[k] = v
			}
			return gerr
		}
		switch {
		case gerr.Extensions["code"] != nil:
			// gqlgen's own parse and validation errors already carry a code.
			gerr.Message = requestMessage(gerr.Message, suggest)
		case aboutRequest:
			gerr.Extensions["code"] = codeBadUserInput
			gerr.Message = requestMessage(gerr.Message, suggest)
		default:
			if logBudgetFrom(ctx).take() {
				log.ErrorContext(ctx, "graphql resolver failed", "error", err, "path", gerr.Path.String(),
					"request_id", requestinfo.FromContext(ctx).ID)
			}
			gerr.Message = "internal server error"
			gerr.Extensions["code"] = codeInternal
		}
		return gerr
	}
}

// maxLoggedFailures is how many internal errors of one request are logged
// one by one. One cause (the database down) fails every field that needs it,
// and a request may have a thousand such fields: one line each would flood
// the log without saying more.
const maxLoggedFailures = 5

// logBudget counts the internal errors of one request.
type logBudget struct{ failures atomic.Int64 }

type logBudgetKey struct{}

func withLogBudget(ctx context.Context) (context.Context, *logBudget) {
	b := &logBudget{}
	return context.WithValue(ctx, logBudgetKey{}, b), b
}

func logBudgetFrom(ctx context.Context) *logBudget {
	b, _ := ctx.Value(logBudgetKey{}).(*logBudget)
	return b
}

// take counts one failure and reports whether it may be logged; without a
// budget, every one may.
func (b *logBudget) take() bool {
	return b == nil || b.failures.Add(1) <= maxLoggedFailures
}

// skipped is how many failures were not logged.
func (b *logBudget) skipped() int64 {
	return max(b.failures.Load()-maxLoggedFailures, 0)
}

// domainError is the message and extensions of an error of the token domain
// or of authentication; ok is false for any other error.
func domainError(err error) (msg string, ext map[string]any, ok bool) {
	var (
		failures  *auth.TooManyFailuresError
		input     *pat.InputError
		quota     *pat.QuotaError
		rate      *pat.RateError
		maxActive *pat.MaxActiveError
	)
	switch {
	case errors.As(err, &failures):
		return "too many failed authentications from this address", rateLimited(time.Now().Add(failures.RetryAfter)), true
	case errors.Is(err, auth.ErrNoCredentials), errors.Is(err, auth.ErrInvalidCredentials),
		errors.Is(err, pat.ErrUnauthenticated):
		return "authentication required: send Authorization: Bearer <session JWT or personal access token>",
			map[string]any{"code": codeUnauthenticated}, true
	case errors.Is(err, pat.ErrNotOrgMember):
		return "not a member of this organization",
			map[string]any{"code": codeForbidden, "reason": string(pat.ReasonNotOrgMember)}, true
	case errors.Is(err, pat.ErrForbidden):
		return cause(err).Error(), map[string]any{"code": codeForbidden}, true
	case errors.Is(err, pat.ErrNotFound):
		return "token not found", map[string]any{"code": codeNotFound}, true
	case errors.Is(err, pat.ErrSessionNotFound):
		return "invalid or expired CLI login session", map[string]any{"code": codeNotFound}, true
	case errors.Is(err, pat.ErrSessionExpired):
		return "the CLI login session has expired", map[string]any{"code": codeBadUserInput, "reason": string(pat.ReasonSessionExpired)}, true
	case errors.Is(err, pat.ErrUnavailable):
		return "temporarily unavailable; try again", map[string]any{"code": codeUnavailable}, true
	case errors.Is(err, date.ErrInvalid):
		// Date is only ever an input for expiresAt.
		input = pat.ErrInvalidDate
		fallthrough
	case errors.As(err, &input):
		return input.Message, map[string]any{"code": codeBadUserInput, "reason": string(input.Reason)}, true
	case errors.As(err, &quota):
		return quota.Error(), rateLimited(quota.ResetAt), true
	case errors.As(err, &rate):
		return rate.Error(), rateLimited(rate.ResetAt), true
	case errors.As(err, &maxActive):
		return maxActive.Error(), map[string]any{"code": codeMaxTokens, "maxActiveTokens": maxActive.Max}, true
	}
	return "", nil, false
}

// cause is the error a resolver returned, without gqlgen's wrapping: the
// Error() of a *gqlerror.Error starts with the query position and path
// ("input:1:12: createPersonalAccessToken …"), which belong in locations and
// path, not in the message.
func cause(err error) error {
	var gqlErr *gqlerror.Error
	for errors.As(err, &gqlErr) && gqlErr.Err != nil {
		err = gqlErr.Err
	}
	return err
}

// maxRequestMessage bounds the message of an error about the request: parse
// errors quote the query ("Unexpected Name …"), which may be up to the body
// limit long.
const maxRequestMessage = 300

// undecodable starts the message gqlgen's transports give a body that is not
// JSON; they append the whole body to it.
const undecodable = "json request body could not be decoded"

// requestMessage is the message to show for an error about the request.
func requestMessage(msg string, suggest bool) string {
	if strings.HasPrefix(msg, undecodable) {
		// Echoing the body would reflect whatever the client sent (or a
		// proxy added) into a JSON answer: say what was wanted instead.
		return `the request body is not a GraphQL request in JSON: want {"query": "…", "variables": {…}}`
	}
	if !suggest {
		if i := strings.Index(msg, "Did you mean"); i >= 0 {
			msg = strings.TrimRight(msg[:i], " ;")
		}
	}
	if len(msg) > maxRequestMessage {
		n := maxRequestMessage
		for n > 0 && !utf8.RuneStart(msg[n]) {
			n--
		}
		msg = msg[:n] + "…"
	}
	return msg
}

func rateLimited(resetAt time.Time) map[string]any {
	return map[string]any{
		"code":              codeRateLimited,
		"resetAt":           date.Format(resetAt),
		"retryAfterSeconds": limit.RetryAfter(time.Until(resetAt)),
	}
}
