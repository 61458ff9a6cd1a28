package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/alternatefutures/patd/internal/auth"
	"github.com/alternatefutures/patd/internal/date"
	"github.com/alternatefutures/patd/internal/limit"
	"github.com/alternatefutures/patd/internal/pat"
	"github.com/alternatefutures/patd/internal/requestinfo"
)

// writeServiceError maps an error of the token service to the REST routes'
// status and body, in this one place. Errors it does not know are internal:
// the caller gets a generic message, the log gets the detail.
func writeServiceError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var (
		input     *pat.InputError
		rate      *pat.RateLimitError
		tokenRate *pat.TokenRateLimitError
		max       *pat.MaxTokensError
	)
	switch {
	case errors.Is(err, auth.ErrNoCredentials), errors.Is(err, auth.ErrInvalidCredentials),
		errors.Is(err, pat.ErrUnauthenticated):
		w.Header().Set("WWW-Authenticate", `Bearer realm="patd"`)
		writeError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "authentication required")
	case errors.Is(err, pat.ErrForbidden):
		writeError(w, http.StatusForbidden, "FORBIDDEN", err.Error())
	case errors.Is(err, pat.ErrNotFound):
		writeError(w, http.StatusNotFound, "NOT_FOUND", "Token not found")
	case errors.As(err, &input):
		code := input.Reason
		if code == pat.ReasonInvalidPagination || code == pat.ReasonInvalidGrace {
			code = "VALIDATION_ERROR"
		}
		writeError(w, http.StatusBadRequest, code, input.Message)
	case errors.As(err, &max):
		writeJSON(w, http.StatusBadRequest, map[string]any{
			"error": max.Error(), "code": "MAX_TOKENS_EXCEEDED", "maxActiveTokens": max.Max,
		})
	case errors.As(err, &rate):
		setRateLimitHeaders(w, limit.Usage{Limit: rate.Limit, Window: rate.Window, ResetAt: rate.ResetAt})
		writeRateLimited(w, rate.Error(), rate.ResetAt)
	case errors.As(err, &tokenRate):
		writeRateLimited(w, tokenRate.Error(), tokenRate.ResetAt)
	default:
		log.ErrorContext(r.Context(), "request failed", "error", err, "route", r.Pattern,
			"request_id", requestinfo.FromContext(r.Context()).ID)
		writeError(w, http.StatusInternalServerError, "INTERNAL_SERVER_ERROR", "internal server error")
	}
}

func writeRateLimited(w http.ResponseWriter, msg string, resetAt time.Time) {
	retry := pat.RetryAfterSeconds(resetAt, time.Now())
	w.Header().Set("Retry-After", strconv.Itoa(retry))
	writeJSON(w, http.StatusTooManyRequests, map[string]any{
		"error": msg, "code": "RATE_LIMIT_EXCEEDED", "resetAt": date.Format(resetAt), "retryAfterSeconds": retry,
	})
}
