package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/alternatefutures/patd/internal/auth"
	"github.com/alternatefutures/patd/internal/date"
	"github.com/alternatefutures/patd/internal/limit"
	"github.com/alternatefutures/patd/internal/pat"
)

// tokenHandlers serve the REST routes the existing CLI and backend call
// (/api/tokens and /tokens); every rule is the pat service's, as for GraphQL.
type tokenHandlers struct {
	tokens *pat.Service
	log    *slog.Logger
}

// listedToken is a token in a list answer; timestamps as in GraphQL, null
// where there is none.
type listedToken struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	MaskedToken string  `json:"maskedToken"`
	ExpiresAt   *string `json:"expiresAt"`
	LastUsedAt  *string `json:"lastUsedAt"`
	CreatedAt   string  `json:"createdAt"`
}

// createdToken is the one answer that carries the secret.
type createdToken struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Token       string  `json:"token"`
	MaskedToken string  `json:"maskedToken"`
	ExpiresAt   *string `json:"expiresAt"`
	CreatedAt   string  `json:"createdAt"`
}

// withCaller adapts a handler that needs the authenticated caller; it
// answers for failed authentication itself.
func (h *tokenHandlers) withCaller(fn func(http.ResponseWriter, *http.Request, auth.Principal)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := auth.FromContext(r.Context())
		if err != nil {
			writeServiceError(w, r, h.log, err)
			return
		}
		fn(w, r, p)
	})
}

func (h *tokenHandlers) create(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	var req struct {
		Name      *string         `json:"name"`
		ExpiresAt json.RawMessage `json:"expiresAt"`
	}
	body, err := io.ReadAll(r.Body)
	if err != nil || json.Unmarshal(body, &req) != nil {
		writeError(w, http.StatusBadRequest, "VALIDATION_ERROR", `want a JSON body {"name": "…", "expiresAt": <optional>}`)
		return
	}
	if req.Name == nil {
		writeError(w, http.StatusBadRequest, "INVALID_TOKEN_NAME", "name is required")
		return
	}
	var expiresAt *time.Time
	if len(req.ExpiresAt) > 0 && string(req.ExpiresAt) != "null" {
		t, err := parseJSONDate(req.ExpiresAt)
		if err != nil {
			writeError(w, http.StatusBadRequest, "INVALID_EXPIRATION", "expiresAt must be an RFC 3339 string or an integer of epoch milliseconds")
			return
		}
		expiresAt = &t
	}
	c, err := h.tokens.Create(r.Context(), p, *req.Name, expiresAt)
	if err != nil {
		writeServiceError(w, r, h.log, err)
		return
	}
	setRateLimitHeaders(w, c.Quota)
	writeJSON(w, http.StatusCreated, map[string]any{"success": true, "token": createdToken{
		ID:          c.ID,
		Name:        c.Name,
		Token:       c.Secret,
		MaskedToken: c.MaskedToken,
		ExpiresAt:   date.FormatPtr(c.ExpiresAt),
		CreatedAt:   date.Format(c.CreatedAt),
	}})
}

func (h *tokenHandlers) list(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	// The old API returned every token at once; keep doing so, a page at a time.
	out := []listedToken{}
	after := ""
	for {
		page, err := h.tokens.List(r.Context(), p, pat.MaxPageSize, after)
		if err != nil {
			writeServiceError(w, r, h.log, err)
			return
		}
		for _, t := range page.Tokens {
			out = append(out, listedToken{
				ID:          t.ID,
				Name:        t.Name,
				MaskedToken: t.MaskedToken,
				ExpiresAt:   date.FormatPtr(t.ExpiresAt),
				LastUsedAt:  date.FormatPtr(t.LastUsedAt),
				CreatedAt:   date.Format(t.CreatedAt),
			})
		}
		if !page.HasNextPage {
			break
		}
		after = page.EndCursor
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": out})
}

func (h *tokenHandlers) delete(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if err := h.tokens.Delete(r.Context(), p, r.PathValue("id")); err != nil {
		writeServiceError(w, r, h.log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "message": "Token deleted successfully"})
}

func (h *tokenHandlers) limits(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	l, err := h.tokens.Limits(r.Context(), p)
	if err != nil {
		writeServiceError(w, r, h.log, err)
		return
	}
	setRateLimitHeaders(w, l.Quota)
	writeJSON(w, http.StatusOK, map[string]any{
		"rateLimit":  map[string]any{"remaining": l.Quota.Remaining, "limit": l.Quota.Limit, "resetAt": date.Format(l.Quota.ResetAt)},
		"tokenLimit": map[string]any{"active": l.ActiveTokens, "max": l.MaxActiveTokens},
	})
}

// setRateLimitHeaders writes the IETF RateLimit and RateLimit-Policy fields
// (draft-ietf-httpapi-ratelimit-headers) for the creation quota.
func setRateLimitHeaders(w http.ResponseWriter, u limit.Usage) {
	reset := max(int(time.Until(u.ResetAt).Seconds()+0.999), 0)
	w.Header().Set("RateLimit-Policy", `"create";q=`+strconv.Itoa(u.Limit)+`;w=`+strconv.Itoa(int(u.Window.Seconds())))
	w.Header().Set("RateLimit", `"create";r=`+strconv.Itoa(u.Remaining)+`;t=`+strconv.Itoa(reset))
}

// parseJSONDate reads a JSON timestamp: an RFC 3339 string or an integer of
// epoch milliseconds.
func parseJSONDate(raw json.RawMessage) (time.Time, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return time.Time{}, err
	}
	return date.Parse(v)
}
