package config

import (
	"errors"
	"strings"
	"testing"
)

// loadEvents reads the events' variables from m as Load does, and returns
// what it read and what was wrong.
func loadEvents(m map[string]string) (Events, []error) {
	r := &reader{lookup: func(k string) (string, bool) { v, ok := m[k]; return v, ok }}
	var c Config
	r.events(&c)
	return c.Events, r.errs
}

func TestEventsDefaults(t *testing.T) {
	e, errs := loadEvents(nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if e.GitHubKeysURL != DefaultGitHubScanningKeysURL || e.GitLabToken != "" || e.WebhookURLs != nil || e.WebhookKey != nil {
		t.Errorf("defaults: %+v", e)
	}
	if e.GitHubKeysRefetch.Seconds() != 60 {
		t.Errorf("key refetch bound %s, want a minute", e.GitHubKeysRefetch)
	}
}

func TestEventsWebhooks(t *testing.T) {
	e, errs := loadEvents(map[string]string{
		"WEBHOOK_URLS":            " https://a.example/hook , http://b.example:8080/x,",
		"WEBHOOK_SECRET":          "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		"GITLAB_REVOCATION_TOKEN": " gl-token ",
	})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if strings.Join(e.WebhookURLs, " ") != "https://a.example/hook http://b.example:8080/x" || len(e.WebhookKey) != 24 || e.GitLabToken != "gl-token" {
		t.Errorf("got %+v", e)
	}
}

func TestEventsErrorsNameTheVariable(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"WEBHOOK_URLS": "https://a.example/hook"}, "WEBHOOK_SECRET: required"},
		{map[string]string{"WEBHOOK_URLS": "https://a.example/hook", "WEBHOOK_SECRET": "plain-secret"}, "WEBHOOK_SECRET: want whsec_"},
		{map[string]string{"WEBHOOK_URLS": "https://a.example/hook", "WEBHOOK_SECRET": "whsec_c2hvcnQ="}, "WEBHOOK_SECRET: the key must be at least 24 bytes"},
		{map[string]string{"WEBHOOK_URLS": "ftp://user:hunter2@a.example/", "WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, "WEBHOOK_URLS: entry 1"},
		{map[string]string{"WEBHOOK_URLS": "https://a.example/hunter2, https://b.example/, https://a.example/hunter2", "WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, "WEBHOOK_URLS: entry 3 repeats entry 1"},
		{map[string]string{"GITHUB_SCANNING_KEYS_URL": "not a url"}, "GITHUB_SCANNING_KEYS_URL"},
	} {
		_, errs := loadEvents(tc.env)
		err := errors.Join(errs...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.env, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error echoes the URL: %v", err)
		}
	}
	// Load reports them too.
	if _, err := Load(func(k string) (string, bool) {
		v, ok := map[string]string{"JWT_SECRET": strings.Repeat("j", 40), "AUTH_SERVICE_SECRET": strings.Repeat("s", 40), "WEBHOOK_URLS": "https://a.example/"}[k]
		return v, ok
	}); err == nil || !strings.Contains(err.Error(), "WEBHOOK_SECRET") {
		t.Errorf("Load: %v", err)
	}
}
