package httpapi

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/alternatefutures/patd/internal/date"
	"github.com/alternatefutures/patd/internal/pat"
)

// CLI serves the routes through which the CLI gets a token at login:
// /auth/pat/create for a CLI that signed in itself, and the pairing flow
// (/auth/cli/start, /auth/cli/approve, /auth/cli/poll) for one that lets the
// user sign in in the browser.
type CLI struct {
	Service *pat.Service
	// AppURL is the web app; pairing links point to AppURL/login/{id}.
	AppURL string
	Log    *slog.Logger
}

// CreateToken mints a token for a signed-in CLI: POST {"name"?, "expiresAt"?,
// "organizationId"?}, with the defaults of pat.Service.CreateCLIToken.
func (h *CLI) CreateToken(w http.ResponseWriter, r *http.Request) {
	p, ok := caller(w, r, h.Log)
	if !ok {
		return
	}
	var req newTokenRequest
	nt, ok := readNewToken(w, r, h.Log, &req, &req, false)
	if !ok {
		return
	}
	c, err := h.Service.CreateCLIToken(r.Context(), p, nt)
	if err != nil {
		writeServiceError(w, r, h.Log, err)
		return
	}
	setRateLimitHeaders(w, c.Quota)
	writeJSON(w, http.StatusCreated, map[string]any{
		"success": true, "token": c.Secret, "id": c.ID, "name": c.Name,
		"expiresAt": date.FormatPtr(c.ExpiresAt), "organizationId": c.OrganizationID,
	})
}

// Start starts a pairing session: POST {"name"?}, no authentication.
func (h *CLI) Start(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name string `json:"name"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	sess, err := h.Service.StartCLILogin(r.Context(), req.Name)
	if err != nil {
		writeServiceError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"success":               true,
		"verificationSessionId": sess.ID,
		"pollSecret":            sess.PollSecret,
		"verificationUrl":       h.AppURL + "/login/" + sess.ID,
		"expiresIn":             int(sess.ExpiresIn.Seconds()),
	})
}

// Approve approves a pairing session for the signed-in user (the web app):
// POST {"verificationSessionId", "name"?, "expiresAt"?, "organizationId"?}.
func (h *CLI) Approve(w http.ResponseWriter, r *http.Request) {
	p, ok := caller(w, r, h.Log)
	if !ok {
		return
	}
	var req struct {
		newTokenRequest
		SessionID string `json:"verificationSessionId"`
	}
	nt, ok := readNewToken(w, r, h.Log, &req, &req.newTokenRequest, false)
	if !ok {
		return
	}
	if err := h.Service.ApproveCLILogin(r.Context(), p, req.SessionID, nt); err != nil {
		writeServiceError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true})
}

// Poll answers a CLI waiting for approval: POST {"verificationSessionId",
// "pollSecret"}: 202 {"status":"pending"} until approved, then 200 with the
// token, once.
func (h *CLI) Poll(w http.ResponseWriter, r *http.Request) {
	var req struct {
		SessionID  string `json:"verificationSessionId"`
		PollSecret string `json:"pollSecret"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	c, err := h.Service.PollCLILogin(r.Context(), req.SessionID, req.PollSecret)
	switch {
	case errors.Is(err, pat.ErrPending):
		writeJSON(w, http.StatusAccepted, map[string]any{"status": "pending"})
	case err != nil:
		writeServiceError(w, r, h.Log, err)
	default:
		writeJSON(w, http.StatusOK, map[string]any{"success": true, "token": c.Secret})
	}
}
