package httpapi

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/alternatefutures/patd/internal/auth"
	"github.com/alternatefutures/patd/internal/date"
	"github.com/alternatefutures/patd/internal/pat"
)

// Tokens serves the REST token routes the existing CLI and backend call
// (/api/tokens and /tokens); every rule is the pat service's, as for GraphQL.
// Requests must carry their authentication outcome (auth.Middleware).
type Tokens struct {
	Service *pat.Service
	Log     *slog.Logger
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

// caller returns the authenticated caller, or answers for failed
// authentication itself and returns ok false.
func (h *Tokens) caller(w http.ResponseWriter, r *http.Request) (p auth.Principal, ok bool) {
	p, err := auth.FromContext(r.Context())
	if err != nil {
		writeServiceError(w, r, h.Log, err)
		return p, false
	}
	return p, true
}

// Create mints a token: POST {"name", "expiresAt"?}.
func (h *Tokens) Create(w http.ResponseWriter, r *http.Request) {
	p, ok := h.caller(w, r)
	if !ok {
		return
	}
	body, ok := readBody(w, r, MaxRESTBody, nil)
	if !ok {
		return
	}
	var req struct {
		Name      *string         `json:"name"`
		ExpiresAt json.RawMessage `json:"expiresAt"`
	}
	if json.Unmarshal(body, &req) != nil {
		writeError(w, http.StatusBadRequest, codeValidation, `want a JSON body {"name": "…", "expiresAt": <optional>}`)
		return
	}
	if req.Name == nil {
		writeError(w, http.StatusBadRequest, string(pat.ReasonInvalidName), "name is required")
		return
	}
	expiresAt, err := parseJSONDate(req.ExpiresAt)
	if err != nil {
		writeServiceError(w, r, h.Log, pat.ErrInvalidDate)
		return
	}
	c, err := h.Service.Create(r.Context(), p, *req.Name, expiresAt)
	if err != nil {
		writeServiceError(w, r, h.Log, err)
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

// List answers every token of the caller at once, as the old API did.
func (h *Tokens) List(w http.ResponseWriter, r *http.Request) {
	p, ok := h.caller(w, r)
	if !ok {
		return
	}
	out := []listedToken{}
	for after := ""; ; {
		page, err := h.Service.List(r.Context(), p, pat.MaxPageSize, after)
		if err != nil {
			writeServiceError(w, r, h.Log, err)
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

// Delete deletes the caller's token named in the path.
func (h *Tokens) Delete(w http.ResponseWriter, r *http.Request) {
	p, ok := h.caller(w, r)
	if !ok {
		return
	}
	if err := h.Service.Delete(r.Context(), p, r.PathValue("id")); err != nil {
		writeServiceError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "message": "Token deleted successfully"})
}

// Limits tells where the caller stands against the creation quota and the cap.
func (h *Tokens) Limits(w http.ResponseWriter, r *http.Request) {
	p, ok := h.caller(w, r)
	if !ok {
		return
	}
	l, err := h.Service.Limits(r.Context(), p)
	if err != nil {
		writeServiceError(w, r, h.Log, err)
		return
	}
	setRateLimitHeaders(w, l.Quota)
	writeJSON(w, http.StatusOK, map[string]any{
		"rateLimit":  map[string]any{"remaining": l.Quota.Remaining, "limit": l.Quota.Limit, "resetAt": date.Format(l.Quota.ResetAt)},
		"tokenLimit": map[string]any{"active": l.ActiveTokens, "max": l.MaxActiveTokens},
	})
}

// parseJSONDate reads an optional JSON timestamp: an RFC 3339 string or an
// integer of epoch milliseconds; nil when absent or null.
func parseJSONDate(raw json.RawMessage) (*time.Time, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	t, err := date.Parse(v)
	if err != nil {
		return nil, err
	}
	return &t, nil
}
