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
	"github.com/alternatefutures/patd/internal/secretscan"
)

// Codes of the REST answers' "code" field, besides the pat.Reason values of
// input errors and the validate route's pat.Outcome values.
const (
	codeBadRequest                = "BAD_REQUEST"
	codeValidation                = "VALIDATION_ERROR"
	codePayloadTooLarge           = "PAYLOAD_TOO_LARGE"
	codeUnauthenticated           = "UNAUTHENTICATED"
	codeForbidden                 = "FORBIDDEN"
	codeNotFound                  = "NOT_FOUND"
	codeMaxTokens                 = "MAX_TOKENS_EXCEEDED"
	codeRateLimited               = "RATE_LIMIT_EXCEEDED"
	codeInvalidServiceCredentials = "INVALID_SERVICE_CREDENTIALS"
	codeInternal                  = "INTERNAL_SERVER_ERROR"
	codeUnavailable               = "UNAVAILABLE"
	codeInvalidPollSecret         = "INVALID_POLL_SECRET"
	codeMethodNotAllowed          = "METHOD_NOT_ALLOWED"
	codeInvalidSignature          = "INVALID_SIGNATURE"
	codeReplayed                  = "REPLAYED_REPORT"
)

// writeServiceError maps an error of the token domain or of authentication
// to the REST routes' status and body, in this one place. Errors it does not
// know are internal: the caller gets a generic message, the log the detail.
func writeServiceError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var (
		failures  *auth.TooManyFailuresError
		input     *pat.InputError
		quota     *pat.QuotaError
		rate      *pat.RateError
		maxActive *pat.MaxActiveError
	)
	switch {
	case errors.As(err, &failures):
		writeRateLimited(w, "too many failed authentications from this address", time.Now().Add(failures.RetryAfter))
	case errors.Is(err, auth.ErrNoCredentials), errors.Is(err, auth.ErrInvalidCredentials),
		errors.Is(err, pat.ErrUnauthenticated):
		w.Header().Set("WWW-Authenticate", `Bearer realm="patd"`)
		writeError(w, http.StatusUnauthorized, codeUnauthenticated, "authentication required")
	case errors.Is(err, pat.ErrNotOrgMember):
		writeError(w, http.StatusForbidden, string(pat.ReasonNotOrgMember), "not a member of this organization")
	case errors.Is(err, pat.ErrForbidden):
		writeError(w, http.StatusForbidden, codeForbidden, err.Error())
	case errors.Is(err, pat.ErrNotFound):
		writeError(w, http.StatusNotFound, codeNotFound, "Token not found")
	case errors.Is(err, pat.ErrSessionNotFound):
		writeError(w, http.StatusNotFound, codeNotFound, "Invalid or expired session")
	case errors.Is(err, pat.ErrSessionExpired):
		writeError(w, http.StatusBadRequest, string(pat.ReasonSessionExpired), "Session expired")
	case errors.Is(err, pat.ErrWrongPollSecret):
		writeError(w, http.StatusUnauthorized, codeInvalidPollSecret, "Invalid session secret")
	case errors.Is(err, secretscan.ErrBadSignature):
		writeError(w, http.StatusUnauthorized, codeInvalidSignature, err.Error())
	case errors.Is(err, pat.ErrReplayed):
		writeError(w, http.StatusConflict, codeReplayed, err.Error())
	case errors.Is(err, pat.ErrUnavailable), errors.Is(err, secretscan.ErrKeysUnavailable):
		log.WarnContext(r.Context(), "dependency unavailable", "error", err, "route", r.Pattern,
			"request_id", requestinfo.FromContext(r.Context()).ID)
		writeError(w, http.StatusServiceUnavailable, codeUnavailable, "temporarily unavailable; try again")
	case errors.As(err, &input):
		writeError(w, http.StatusBadRequest, inputCode(input.Reason), input.Message)
	case errors.As(err, &maxActive):
		writeMaxActive(w, http.StatusBadRequest, maxActive)
	case errors.As(err, &quota):
		setRateLimitHeaders(w, quota.Usage())
		writeRateLimited(w, quota.Error(), quota.ResetAt)
	case errors.As(err, &rate):
		writeRateLimited(w, rate.Error(), rate.ResetAt)
	default:
		log.ErrorContext(r.Context(), "request failed", "error", err, "route", r.Pattern,
			"request_id", requestinfo.FromContext(r.Context()).ID)
		writeError(w, http.StatusInternalServerError, codeInternal, "internal server error")
	}
}

// inputCode is the REST code of an input error: the reasons the old API had
// keep their names, the others are VALIDATION_ERROR.
func inputCode(r pat.Reason) string {
	switch r {
	case pat.ReasonInvalidName, pat.ReasonInvalidExpiration:
		return string(r)
	}
	return codeValidation
}

func writeMaxActive(w http.ResponseWriter, status int, e *pat.MaxActiveError) {
	writeJSON(w, status, map[string]any{"error": e.Error(), "code": codeMaxTokens, "maxActiveTokens": e.Max})
}

func writeRateLimited(w http.ResponseWriter, msg string, resetAt time.Time) {
	retry := limit.RetryAfter(time.Until(resetAt))
	w.Header().Set("Retry-After", strconv.Itoa(retry))
	writeJSON(w, http.StatusTooManyRequests, map[string]any{
		"error": msg, "code": codeRateLimited, "resetAt": date.Format(resetAt), "retryAfterSeconds": retry,
	})
}

// setRateLimitHeaders writes the IETF RateLimit and RateLimit-Policy fields
// (draft-ietf-httpapi-ratelimit-headers) for the creation quota.
func setRateLimitHeaders(w http.ResponseWriter, u limit.Usage) {
	reset := limit.CeilSeconds(time.Until(u.ResetAt))
	w.Header().Set("RateLimit-Policy", `"create";q=`+strconv.Itoa(u.Limit)+`;w=`+strconv.Itoa(int(u.Window.Seconds())))
	w.Header().Set("RateLimit", `"create";r=`+strconv.Itoa(u.Remaining)+`;t=`+strconv.Itoa(reset))
}
