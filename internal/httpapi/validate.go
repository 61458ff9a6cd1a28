package httpapi

import (
	"encoding/json"
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

// validAnswer is the body of a VALID answer; exp is null for a token that
// never expires.
type validAnswer struct {
	Valid   bool   `json:"valid"`
	Active  bool   `json:"active"`
	Code    string `json:"code"`
	UserID  string `json:"userId"`
	TokenID string `json:"tokenId"`
	// OrganizationID is always present: null for a personal token.
	OrganizationID *string `json:"organizationId"`
	Name           string  `json:"name"`
	Sub            string  `json:"sub"`
	Exp            *int64  `json:"exp"`
	Iat            int64   `json:"iat"`
	TokenType      string  `json:"token_type"`
}

// invalidAnswer is the body of every other answer.
type invalidAnswer struct {
	Valid      bool   `json:"valid"`
	Active     bool   `json:"active"`
	Code       string `json:"code"`
	RetryAfter int    `json:"retryAfterSeconds,omitempty"`
}

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

var bodyBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func (h *validateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer func() { h.metrics.ValidateLatency(time.Since(start)) }()

	bp := bodyBuffers.Get().(*[]byte)
	defer bodyBuffers.Put(bp)
	body, ok := readBody(w, r, MaxRESTBody, (*bp)[:0])
	*bp = body[:0]
	if !ok {
		return
	}
	var req struct {
		Token *string `json:"token"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Token == nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, `want a JSON body {"token": "<personal access token>"}`)
		return
	}

	v, err := h.validator.Validate(r.Context(), *req.Token)
	if err != nil {
		h.log.ErrorContext(r.Context(), "validate: token store unavailable", "error", err,
			"request_id", requestinfo.FromContext(r.Context()).ID)
		writeValidation(w, http.StatusServiceUnavailable, invalidAnswer{Code: string(pat.OutcomeUnavailable)})
		return
	}
	switch v.Outcome {
	case pat.OutcomeValid:
		out := validAnswer{
			Valid: true, Active: true, Code: string(v.Outcome),
			UserID: v.UserID, TokenID: v.TokenID, OrganizationID: v.OrganizationID, Name: v.Name, Sub: v.UserID,
			Iat: v.CreatedAt.Unix(), TokenType: "personal_access_token",
		}
		if v.ExpiresAt != nil {
			exp := v.ExpiresAt.Unix()
			out.Exp = &exp
		}
		writeValidation(w, http.StatusOK, out)
	case pat.OutcomeRateLimited:
		secs := limit.RetryAfter(v.RetryAfter)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeValidation(w, http.StatusTooManyRequests, invalidAnswer{Code: string(v.Outcome), RetryAfter: secs})
	default: // NOT_FOUND, EXPIRED, MALFORMED
		writeValidation(w, http.StatusUnauthorized, invalidAnswer{Code: string(v.Outcome)})
	}
}

// Shared header values: assigning them allocates nothing, unlike Header().Set.
// Nothing may modify them.
var (
	jsonContentType = []string{"application/json"}
	noStore         = []string{"no-store"}
)

func writeValidation(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
