package httpapi

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/alternatefutures/patd/internal/pat"
)

// Internal serves the routes only backends holding the service secret may
// call: serve them behind RequireServiceSecret.
type Internal struct {
	Service *pat.Service
	Log     *slog.Logger
}

// Create mints a token for a user, for the deploy pipeline:
// POST {"userId", "organizationId", "name", "expiresAt"?: epoch ms}. The
// caller vouches for the membership. Both limits answer 429, as the pipeline
// expects.
func (h *Internal) Create(w http.ResponseWriter, r *http.Request) {
	var req struct {
		newTokenRequest
		UserID string `json:"userId"`
	}
	nt, ok := readNewToken(w, r, h.Log, &req, &req.newTokenRequest, true)
	if !ok {
		return
	}
	c, err := h.Service.CreateFor(r.Context(), req.UserID, nt)
	var maxActive *pat.MaxActiveError
	if errors.As(err, &maxActive) {
		writeMaxActive(w, http.StatusTooManyRequests, maxActive)
		return
	}
	if err != nil {
		writeServiceError(w, r, h.Log, err)
		return
	}
	setRateLimitHeaders(w, c.Quota)
	writeJSON(w, http.StatusCreated, map[string]any{
		"success": true, "token": c.Secret, "id": c.ID, "name": c.Name, "organizationId": c.OrganizationID,
	})
}

// RevokeAll deletes every token of the user in the path, for when the
// account goes; with ?organizationId=X only the user's tokens of X, for when
// the user leaves the organization.
func (h *Internal) RevokeAll(w http.ResponseWriter, r *http.Request) {
	userID := r.PathValue("userId")
	if userID == "" {
		writeError(w, http.StatusBadRequest, codeBadRequest, "missing user id")
		return
	}
	n, err := h.Service.RevokeAll(r.Context(), userID, r.URL.Query().Get("organizationId"))
	if err != nil {
		writeServiceError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "deleted": n})
}
