package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/alternatefutures/patd/internal/webhooks"
)

// DefaultGitHubScanningKeysURL is where GitHub publishes the keys that sign
// secret scanning partner reports.
const DefaultGitHubScanningKeysURL = "https://api.github.com/meta/public_keys/secret_scanning"

// Events is how patd hears of leaked tokens and tells of token changes.
type Events struct {
	// GitHubKeysURL serves the keys of GitHub's secret scanning reports.
	GitHubKeysURL string
	// GitHubKeysRefetch is the least time between two fetches of those keys
	// (one is made when a report names a key patd does not know), so that
	// made-up key ids cannot make patd hammer the endpoint. A minute; shorter
	// only in tests.
	GitHubKeysRefetch time.Duration
	// GitLabToken is the bearer a GitLab instance presents to the Token
	// Revocation API; empty: those routes are off.
	GitLabToken string
	// WebhookURLs receive lifecycle events; empty: no webhooks.
	WebhookURLs []string
	// WebhookKey is the HMAC key decoded from WEBHOOK_SECRET.
	WebhookKey []byte
	// WebhookRetrySchedule and WebhookPeriodicEvery are the webhooks' retry
	// schedule and expiring-check period: defaults (nil, 0) except in tests.
	WebhookRetrySchedule []time.Duration
	WebhookPeriodicEvery time.Duration
}

// loadEvents reads GITHUB_SCANNING_KEYS_URL, GITLAB_REVOCATION_TOKEN,
// WEBHOOK_URLS and WEBHOOK_SECRET through env (which gives def when unset).
func loadEvents(env func(name, def string) string) (Events, []error) {
	var errs []error
	e := Events{
		GitHubKeysURL:     strings.TrimSpace(env("GITHUB_SCANNING_KEYS_URL", DefaultGitHubScanningKeysURL)),
		GitHubKeysRefetch: time.Minute,
		GitLabToken:       strings.TrimSpace(env("GITLAB_REVOCATION_TOKEN", "")),
	}
	if !isHTTPURL(e.GitHubKeysURL) {
		errs = append(errs, errors.New("GITHUB_SCANNING_KEYS_URL: want an http:// or https:// URL"))
	}
	for _, u := range strings.Split(env("WEBHOOK_URLS", ""), ",") {
		if u = strings.TrimSpace(u); u == "" {
			continue
		}
		if !isHTTPURL(u) {
			// Never echo the URL: it may carry a token of the receiver's.
			errs = append(errs, fmt.Errorf("WEBHOOK_URLS: entry %d is not an http:// or https:// URL", len(e.WebhookURLs)+1))
		}
		e.WebhookURLs = append(e.WebhookURLs, u)
	}
	if secret := env("WEBHOOK_SECRET", ""); secret != "" {
		key, err := webhooks.ParseSecret(secret)
		if err != nil {
			errs = append(errs, fmt.Errorf("WEBHOOK_SECRET: %w", err))
		}
		e.WebhookKey = key
	} else if len(e.WebhookURLs) > 0 {
		errs = append(errs, errors.New("WEBHOOK_SECRET: required when WEBHOOK_URLS is set"))
	}
	return e, errs
}

func isHTTPURL(s string) bool {
	p, err := url.Parse(s)
	return err == nil && (p.Scheme == "http" || p.Scheme == "https") && p.Host != ""
}
