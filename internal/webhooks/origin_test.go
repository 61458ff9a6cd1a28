package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

func TestOriginKeepsOnlySchemeHostPort(t *testing.T) {
	for in, want := range map[string]string{
		"https://hooks.example.com/in?token=s3cret":               "https://hooks.example.com",
		"http://user:s3cret@hooks.example.com:8080/s3cret#s3cret": "http://hooks.example.com:8080",
		"https://s3cret@[::1]:8443/x":                             "https://[::1]:8443",
		"HTTPS://Hooks.Example.com/s3cret":                        "https://Hooks.Example.com",
		"https://hooks.example.com:bad/s3cret":                    "(unparsable URL)",
		"s3cret":                                                  "(unparsable URL)",
		"":                                                        "(unparsable URL)",
	} {
		if got := origin(in); got != want {
			t.Errorf("origin(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWithoutURLKeepsOperationAndCause(t *testing.T) {
	const endpoint = "https://u:s3cret@hooks.example.com/s3cret?token=s3cret"
	cause := context.DeadlineExceeded
	err := withoutURL(fmt.Errorf("send: %w", &url.Error{Op: "Post", URL: endpoint, Err: cause}), endpoint)
	if got, want := err.Error(), `Post "https://hooks.example.com": context deadline exceeded`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if !errors.Is(err, cause) {
		t.Error("the cause is lost")
	}
	plain := errors.New("endpoint answered 503")
	if got := withoutURL(plain, endpoint); got != plain {
		t.Errorf("an error without a URL became %q", got)
	}
	if strings.Contains(withoutURL(&url.Error{Op: "parse", URL: endpoint, Err: errors.New("bad")}, endpoint).Error(), "s3cret") {
		t.Error("a parse error keeps the secret")
	}
}
