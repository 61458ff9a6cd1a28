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
	ID             string  `json:"id"`
	Name           string  `json:"name"`
	OrganizationID *string `json:"organizationId"`
	MaskedToken    string  `json:"maskedToken"`
	ExpiresAt      *string `json:"expiresAt"`
	LastUsedAt     *string `json:"lastUsedAt"`
	CreatedAt      string  `json:"createdAt"`
	UpdatedAt      string  `json:"updatedAt"`
}

func toListed(t pat.Token) listedToken {
	return listedToken{
		ID:             t.ID,
		Name:           t.Name,
		OrganizationID: t.OrganizationID,
		MaskedToken:    t.MaskedToken,
		ExpiresAt:      date.FormatPtr(t.ExpiresAt),
		LastUsedAt:     date.FormatPtr(t.LastUsedAt),
		CreatedAt:      date.Format(t.CreatedAt),
		UpdatedAt:      date.Format(t.UpdatedAt),
	}
}

// createdToken is the one answer that carries the secret.
type createdToken struct {
	listedToken
	Token string `json:"token"`
}

// newTokenRequest is the body of the routes that create a token.
type newTokenRequest struct {
	Name           *string         `json:"name"`
	ExpiresAt      json.RawMessage `json:"expiresAt"`
	OrganizationID *string         `json:"organizationId"`
}

// newToken turns the request into what the domain asks for; a date it
// cannot read is pat.ErrInvalidDate.
func (req newTokenRequest) newToken() (pat.NewToken, error) {
	exp, err := parseJSONDate(req.ExpiresAt)
	if err != nil {
		return pat.NewToken{}, pat.ErrInvalidDate
	}
	var nt pat.NewToken
	if req.Name != nil {
		nt.Name = *req.Name
	}
	if req.OrganizationID != nil {
		nt.OrganizationID = *req.OrganizationID
	}
	nt.ExpiresAt = exp
	return nt, nil
}

// readNewToken decodes the body into v, whose token fields are req, and
// returns what they ask for; it answers 400 itself (and returns false) for a
// body it cannot read, a missing name when nameRequired, or a bad date.
func readNewToken(w http.ResponseWriter, r *http.Request, log *slog.Logger, v any, req *newTokenRequest, nameRequired bool) (pat.NewToken, bool) {
	if !decodeBody(w, r, v) {
		return pat.NewToken{}, false
	}
	if nameRequired && req.Name == nil {
		writeError(w, http.StatusBadRequest, string(pat.ReasonInvalidName), "name is required")
		return pat.NewToken{}, false
	}
	nt, err := req.newToken()
	if err != nil {
		writeServiceError(w, r, log, err)
		return pat.NewToken{}, false
	}
	return nt, true
}

// decodeBody reads a JSON body of at most MaxRESTBody bytes into v, or
// answers 400 (413 when too large) itself and returns false. An empty body
// decodes as {}.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	body, ok := readBody(w, r, MaxRESTBody, nil)
	if !ok {
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return true
	}
	if json.Unmarshal(body, v) != nil {
		writeError(w, http.StatusBadRequest, codeValidation, "the request body is not the JSON object this route takes")
		return false
	}
	return true
}

// caller returns the authenticated caller, or answers for failed
// authentication itself and returns ok false.
func caller(w http.ResponseWriter, r *http.Request, log *slog.Logger) (p auth.Principal, ok bool) {
	p, err := auth.FromContext(r.Context())
	if err != nil {
		writeServiceError(w, r, log, err)
		return p, false
	}
	return p, true
}

// Create mints a token: POST {"name", "expiresAt"?, "organizationId"?}.
func (h *Tokens) Create(w http.ResponseWriter, r *http.Request) {
	p, ok := caller(w, r, h.Log)
	if !ok {
		return
	}
	var req newTokenRequest
	nt, ok := readNewToken(w, r, h.Log, &req, &req, true)
	if !ok {
		return
	}
	c, err := h.Service.Create(r.Context(), p, nt)
	if err != nil {
		writeServiceError(w, r, h.Log, err)
		return
	}
	setRateLimitHeaders(w, c.Quota)
	writeJSON(w, http.StatusCreated, map[string]any{"success": true, "token": createdToken{toListed(c.Token), c.Secret}})
}

// List answers every token of the caller at once, as the old API did.
func (h *Tokens) List(w http.ResponseWriter, r *http.Request) {
	p, ok := caller(w, r, h.Log)
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
			out = append(out, toListed(t))
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
	p, ok := caller(w, r, h.Log)
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
	p, ok := caller(w, r, h.Log)
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
