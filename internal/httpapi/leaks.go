package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/alternatefutures/patd/internal/auth"
	"github.com/alternatefutures/patd/internal/pat"
	"github.com/alternatefutures/patd/internal/secretscan"
)

// MaxLeakReportBody bounds a leak report: 1 MiB holds a few thousand
// reported tokens with their URLs (1,000 take about 250 KiB).
const MaxLeakReportBody = 1 << 20

// GitLabTokenType is the token type patd answers to GitLab's secret
// detection: the gitleaks rule id (type and value of the finding's primary
// identifier, concatenated) that the GitLab instance's custom rule for
// af_live_/af_test_ tokens must use.
const GitLabTokenType = "gitleaks_rule_id_alternatefutures_personal_access_token"

// Leaks serves the routes secret scanners report leaked tokens to.
type Leaks struct {
	Service *pat.Service
	// GitHubKeys verifies GitHub's report signatures.
	GitHubKeys *secretscan.GitHubKeys
	Log        *slog.Logger
}

// GitHub takes a GitHub secret scanning partner report: a signed JSON array
// of {token, type, url, source}. Each token patd issued is revoked; the
// answer is the feedback array GitHub reads, one entry per reported token:
// {token_hash (SHA-256 hex), token_type, label: true_positive|false_positive}.
func (h *Leaks) GitHub(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r, MaxLeakReportBody, nil)
	if !ok {
		return
	}
	err := h.GitHubKeys.Verify(r.Context(), r.Header.Get(secretscan.HeaderKeyID), r.Header.Get(secretscan.HeaderSignature), body)
	if err != nil {
		writeServiceError(w, r, h.Log, err)
		return
	}
	var report []struct {
		Token  string `json:"token"`
		Type   string `json:"type"`
		URL    string `json:"url"`
		Source string `json:"source"`
	}
	if json.Unmarshal(body, &report) != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, "the report is not a JSON array of {token, type, url, source}")
		return
	}
	leaks := make([]pat.Leak, len(report))
	for i, l := range report {
		leaks[i] = pat.Leak{Token: l.Token, Type: l.Type, URL: l.URL, Source: l.Source}
	}
	digest := sha256.Sum256(body)
	results, err := h.Service.RevokeLeaked(r.Context(), pat.ActorGitHubScanning, leaks, digest[:])
	if err != nil {
		writeServiceError(w, r, h.Log, err)
		return
	}
	type feedback struct {
		TokenHash string `json:"token_hash"`
		TokenType string `json:"token_type"`
		Label     string `json:"label"`
	}
	out := make([]feedback, len(results))
	for i, res := range results {
		out[i] = feedback{TokenHash: hex.EncodeToString(res.Hash[:]), TokenType: report[i].Type, Label: "false_positive"}
		if res.Revoked {
			out[i].Label = "true_positive"
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// GitLab serves GitLab's Token Revocation API for self-managed instances,
// behind a bearer check against token.
type GitLab struct {
	Service *pat.Service
	Log     *slog.Logger
}

// RequireGitLabToken lets through only requests bearing token; others get
// 401, as GitLab's API specification has it.
func RequireGitLabToken(token string, next http.Handler) http.Handler {
	secrets := auth.ServiceSecrets{[]byte(token)}.Digests() // hashed once, not per request
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !secrets.Check(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="patd"`)
			writeError(w, http.StatusUnauthorized, codeUnauthenticated, "missing or wrong revocation token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Types answers GET /v1/revocable_token_types: {"types": [...]}.
func (h *GitLab) Types(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string][]string{"types": {GitLabTokenType}})
}

// Revoke answers POST /v1/revoke_tokens, a JSON array of {type, token,
// location}: 204 once every token patd issued among them is revoked; 400 for
// a body that is not such an array or names a type patd does not revoke.
func (h *GitLab) Revoke(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r, MaxLeakReportBody, nil)
	if !ok {
		return
	}
	var report []struct {
		Type     string `json:"type"`
		Token    string `json:"token"`
		Location string `json:"location"`
	}
	if json.Unmarshal(body, &report) != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, "the body is not a JSON array of {type, token, location}")
		return
	}
	leaks := make([]pat.Leak, len(report))
	for i, l := range report {
		if l.Type != GitLabTokenType {
			writeError(w, http.StatusBadRequest, codeBadRequest, "unsupported token type; GET /v1/revocable_token_types lists them")
			return
		}
		leaks[i] = pat.Leak{Token: l.Token, Type: l.Type, URL: l.Location, Source: "gitlab"}
	}
	if _, err := h.Service.RevokeLeaked(r.Context(), pat.ActorGitLabScanning, leaks, nil); err != nil {
		writeServiceError(w, r, h.Log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
