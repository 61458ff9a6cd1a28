package config

import (
	"net/url"
	"slices"
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

// events reads GITHUB_SCANNING_KEYS_URL, GITLAB_REVOCATION_TOKEN,
// WEBHOOK_URLS and WEBHOOK_SECRET.
func (r *reader) events(c *Config) {
	e := Events{
		GitHubKeysURL:     r.url("GITHUB_SCANNING_KEYS_URL", DefaultGitHubScanningKeysURL),
		GitHubKeysRefetch: time.Minute,
		GitLabToken:       strings.TrimSpace(r.str("GITLAB_REVOCATION_TOKEN", "")),
	}
	for _, u := range strings.Split(r.str("WEBHOOK_URLS", ""), ",") {
		if u = strings.TrimSpace(u); u == "" {
			continue
		}
		// Never echo the URL: it may carry a token of the receiver's.
		if !isHTTPURL(u) {
			r.fail("WEBHOOK_URLS: entry %d is not an http:// or https:// URL", len(e.WebhookURLs)+1)
		}
		// An event has one delivery per endpoint: a repeated URL would
		// make every event's deliveries collide, and every token change
		// fail with them.
		if i := slices.Index(e.WebhookURLs, u); i >= 0 {
			r.fail("WEBHOOK_URLS: entry %d repeats entry %d", len(e.WebhookURLs)+1, i+1)
		}
		e.WebhookURLs = append(e.WebhookURLs, u)
	}
	if secret := r.str("WEBHOOK_SECRET", ""); secret != "" {
		key, err := webhooks.ParseSecret(secret)
		if err != nil {
			r.fail("WEBHOOK_SECRET: %w", err)
		}
		e.WebhookKey = key
	} else if len(e.WebhookURLs) > 0 {
		r.fail("WEBHOOK_SECRET: required when WEBHOOK_URLS is set")
	}
	c.Events = e
}

func isHTTPURL(s string) bool {
	p, err := url.Parse(s)
	return err == nil && (p.Scheme == "http" || p.Scheme == "https") && p.Host != ""
}
