package httpapi

import (
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/alternatefutures/patd/internal/limit"
	"github.com/alternatefutures/patd/internal/metrics"
	"github.com/alternatefutures/patd/internal/pat"
	"github.com/alternatefutures/patd/internal/requestinfo"
)

// Validate answers "is this PAT valid, and whose is it?" (POST
// {"token"}). Every answer but VALID has a non-2xx status, so a caller that
// only checks the status fails safe. Only backends may call it: serve it
// behind RequireServiceSecret.
func Validate(v *pat.Validator, m *metrics.Metrics, log *slog.Logger) http.Handler {
	return &validateHandler{validator: v, metrics: m, log: log}
}

type validateHandler struct {
	validator *pat.Validator
	metrics   *metrics.Metrics
	log       *slog.Logger
}

// bodyBuffers hold a validate request's body, then its answer.
var bodyBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func (h *validateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Not a deferred closure: the latency is observed on the way out of a
	// call, which costs nothing to set up.
	start := time.Now()
	bp := bodyBuffers.Get().(*[]byte)
	*bp = h.serve(w, r, (*bp)[:0])
	bodyBuffers.Put(bp)
	h.metrics.ValidateLatency(time.Since(start))
}

// serve answers one validation; buf is a buffer to use, returned for reuse.
func (h *validateHandler) serve(w http.ResponseWriter, r *http.Request, buf []byte) []byte {
	body, ok := readBody(w, r, MaxRESTBody, buf)
	if !ok {
		return body
	}
	tok, ok := decodeToken(body)
	if !ok {
		writeError(w, http.StatusBadRequest, codeBadRequest, `want a JSON body {"token": "<personal access token>"}`)
		return body
	}
	out := body[:0] // the token is a copy: the buffer now takes the answer

	v, err := h.validator.Validate(r.Context(), tok)
	if err != nil {
		h.log.ErrorContext(r.Context(), "validate: token store unavailable", "error", err,
			"request_id", requestinfo.FromContext(r.Context()).ID)
		return writeValidation(w, http.StatusServiceUnavailable, appendInvalid(out, string(pat.OutcomeUnavailable), 0))
	}
	switch v.Outcome {
	case pat.OutcomeValid:
		return writeValidation(w, http.StatusOK, appendValid(out, v.UserID, v.TokenID, v.OrganizationID, v.Name, v.ExpiresAt, v.CreatedAt))
	case pat.OutcomeRateLimited:
		secs := limit.RetryAfter(v.RetryAfter)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		return writeValidation(w, http.StatusTooManyRequests, appendInvalid(out, string(v.Outcome), secs))
	default: // NOT_FOUND, EXPIRED, MALFORMED
		return writeValidation(w, http.StatusUnauthorized, appendInvalid(out, string(v.Outcome), 0))
	}
}

// Shared header values: assigning them allocates nothing, unlike Header().Set.
// Nothing may modify them.
var (
	jsonContentType = []string{"application/json"}
	noStore         = []string{"no-store"}
)

// writeValidation sends an answer body and returns it for reuse. A 200 is
// sent by the first Write alone: net/http copies the header map on an
// explicit WriteHeader, and the valid answer is the one backends get most.
func writeValidation(w http.ResponseWriter, status int, body []byte) []byte {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	if status != http.StatusOK {
		w.WriteHeader(status)
	}
	_, _ = w.Write(body)
	return body
}
