package graph

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/alternatefutures/patd/internal/auth"
	"github.com/alternatefutures/patd/internal/date"
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
)

// entityPrincipal is principal for _entities, which needs no caller: without
// credentials every token resolves to null.
func entityPrincipal(ctx context.Context) (auth.Principal, error) {
	p, err := auth.FromContext(ctx)
	if errors.Is(err, auth.ErrNoCredentials) {
		return auth.Principal{}, nil
	}
	return p, err
}

// errorPresenter maps every error a resolver returns to its GraphQL code, in
// this one place. Errors it does not know are internal: the caller gets a
// generic message and the log gets the detail with the request id.
func errorPresenter(log *slog.Logger) graphql.ErrorPresenterFunc {
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
		var (
			input     *pat.InputError
			rate      *pat.RateLimitError
			tokenRate *pat.TokenRateLimitError
			max       *pat.MaxTokensError
		)
		switch {
		case errors.Is(err, auth.ErrNoCredentials), errors.Is(err, auth.ErrInvalidCredentials),
			errors.Is(err, pat.ErrUnauthenticated):
			gerr.Message = "authentication required: send Authorization: Bearer <session JWT or personal access token>"
			gerr.Extensions["code"] = codeUnauthenticated
		case errors.Is(err, pat.ErrForbidden):
			gerr.Message = err.Error()
			gerr.Extensions["code"] = codeForbidden
		case errors.Is(err, pat.ErrNotFound):
			gerr.Message = "token not found"
			gerr.Extensions["code"] = codeNotFound
		case errors.As(err, &input):
			gerr.Message = input.Message
			gerr.Extensions["code"] = codeBadUserInput
			gerr.Extensions["reason"] = input.Reason
		case errors.Is(err, date.ErrInvalid):
			// Date is only ever an input for expiresAt.
			gerr.Message = "expiresAt must be an RFC 3339 string or an integer of epoch milliseconds"
			gerr.Extensions["code"] = codeBadUserInput
			gerr.Extensions["reason"] = pat.ReasonInvalidExpiration
		case errors.As(err, &rate):
			gerr.Message = rate.Error()
			gerr.Extensions["code"] = codeRateLimited
			gerr.Extensions["resetAt"] = date.Format(rate.ResetAt)
			gerr.Extensions["retryAfterSeconds"] = pat.RetryAfterSeconds(rate.ResetAt, time.Now())
		case errors.As(err, &tokenRate):
			gerr.Message = tokenRate.Error()
			gerr.Extensions["code"] = codeRateLimited
			gerr.Extensions["resetAt"] = date.Format(tokenRate.ResetAt)
			gerr.Extensions["retryAfterSeconds"] = pat.RetryAfterSeconds(tokenRate.ResetAt, time.Now())
		case errors.As(err, &max):
			gerr.Message = max.Error()
			gerr.Extensions["code"] = codeMaxTokens
			gerr.Extensions["maxActiveTokens"] = max.Max
		case gerr.Extensions["code"] != nil:
			// gqlgen's own parse and validation errors already carry a code.
		case aboutRequest:
			gerr.Extensions["code"] = codeBadUserInput
		default:
			log.ErrorContext(ctx, "graphql resolver failed", "error", err, "path", gerr.Path.String(),
				"request_id", requestinfo.FromContext(ctx).ID)
			gerr.Message = "internal server error"
			gerr.Extensions["code"] = codeInternal
		}
		return gerr
	}
}
