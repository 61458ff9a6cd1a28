// Package orgs asks the auth service whether a user belongs to an
// organization: GET {AUTH_SERVICE_URL}/organizations/{id} with the caller's
// own Authorization header, where 200 means member. Positive answers are
// cached briefly; everything else fails closed.
package orgs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Errors of Check.
var (
	// ErrNotMember means the auth service said the caller is not a member
	// (403 or 404).
	ErrNotMember = errors.New("orgs: not a member of the organization")
	// ErrUnavailable means membership could not be established: no auth
	// service configured, a timeout, or any other answer.
	ErrUnavailable = errors.New("orgs: membership cannot be checked")
)

// Defaults of a Client.
const (
	DefaultTimeout  = 2 * time.Second
	DefaultCacheTTL = 60 * time.Second
	maxCacheEntries = 10_000
)

// Client checks memberships against the auth service.
type Client struct {
	base     *url.URL // nil: no auth service configured
	http     *http.Client
	cacheTTL time.Duration

	mu    sync.Mutex
	cache map[cacheKey]time.Time // → when the positive answer ends
}

type cacheKey struct {
	userID string
	orgID  string
}

// New returns a Client for the auth service at baseURL; an empty baseURL
// makes every check fail with ErrUnavailable. A zero timeout or cacheTTL
// takes the default.
func New(baseURL string, timeout, cacheTTL time.Duration) (*Client, error) {
	c := &Client{cacheTTL: cacheTTL, cache: map[cacheKey]time.Time{}}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if c.cacheTTL <= 0 {
		c.cacheTTL = DefaultCacheTTL
	}
	c.http = &http.Client{
		Timeout: timeout,
		// The caller's credentials must not follow a redirect elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if baseURL != "" {
		u, err := url.Parse(baseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("orgs: want an http(s) URL for the auth service")
		}
		c.base = u
	}
	return c, nil
}

// Check reports whether userID, who presented authorization (the value of
// their Authorization header), is a member of orgID: nil when so,
// ErrNotMember when the auth service says not, ErrUnavailable (wrapped)
// when it cannot tell.
func (c *Client) Check(ctx context.Context, authorization, userID, orgID string) error {
	if c.base == nil {
		return fmt.Errorf("%w: AUTH_SERVICE_URL is not set", ErrUnavailable)
	}
	// The user is the same whatever credential they present; the key also
	// hashes nothing secret into memory.
	key := cacheKey{userID: userID, orgID: orgID}
	now := time.Now()
	c.mu.Lock()
	until, ok := c.cache[key]
	c.mu.Unlock()
	if ok && now.Before(until) {
		return nil
	}
	if err := c.ask(ctx, authorization, orgID); err != nil {
		return err
	}
	c.remember(key, now.Add(c.cacheTTL))
	return nil
}

func (c *Client) ask(ctx context.Context, authorization, orgID string) error {
	// The id is one escaped path segment: it cannot reach another route.
	u := c.base.JoinPath("organizations")
	u.RawPath = u.EscapedPath() + "/" + url.PathEscape(orgID)
	u.Path += "/" + orgID
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	req.Header.Set("Authorization", authorization)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	switch resp.StatusCode {
	case http.StatusOK:
		return nil
	case http.StatusForbidden, http.StatusNotFound:
		return ErrNotMember
	}
	return fmt.Errorf("%w: the auth service answered %d", ErrUnavailable, resp.StatusCode)
}

func (c *Client) remember(k cacheKey, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.cache) >= maxCacheEntries {
		now := time.Now()
		for k, u := range c.cache {
			if !now.Before(u) {
				delete(c.cache, k)
			}
		}
		if len(c.cache) >= maxCacheEntries {
			clear(c.cache) // a burst of distinct users: start over rather than grow
		}
	}
	c.cache[k] = until
}
