package replicas_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/alternatefutures/patd/internal/pattest"
)

// TestSoak runs three replicas under mixed load (validations, creates,
// deletes, rotations, revoke-alls) with a PostgreSQL outage in the middle,
// and measures revocation latency: from the return of the revoking call
// until every other replica refuses the token. Run it with `make soak`;
// SOAK_DURATION (default 25s) and SOAK_OUTAGE (default 2s) change the run,
// SOAK_VALIDATE_RATE (default 150) the validations per second.
func TestSoak(t *testing.T) {
	// make test runs the short soak; make soak a longer one (SOAK_*).
	duration := envDuration(t, "SOAK_DURATION", 25*time.Second)
	outage := envDuration(t, "SOAK_OUTAGE", 2*time.Second)
	rate := 150
	if v := os.Getenv("SOAK_VALIDATE_RATE"); v != "" {
		if _, err := fmt.Sscan(v, &rate); err != nil || rate <= 0 {
			t.Fatalf("SOAK_VALIDATE_RATE=%q", v)
		}
	}

	cfg := pattest.Config(t)
	// Limits low enough to be reached by some users during the run: the
	// checker asserts they were never exceeded.
	cfg.CreateLimit, cfg.MaxActive = soakCreateLimit, soakMaxActive
	cfg.ValidateRate = 0 // watchers poll revoked tokens hard; the rate limit is not under test
	proxy := pattest.NewProxy(t, "127.0.0.1:5432")
	direct := cfg.DatabaseURL // the checker's, never cut
	cfg.DatabaseURL = proxy.Rewrite(cfg.DatabaseURL)
	s := &soak{
		t:        t,
		client:   &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}},
		replicas: []*pattest.Replica{pattest.Start(t, cfg), pattest.Start(t, cfg), pattest.Start(t, cfg)},
		live:     map[string]soakToken{},
		stats:    map[string]map[string]int{},
	}
	for i := range 20 {
		s.users = append(s.users, fmt.Sprintf("soak-user-%d", i))
	}
	for i := range 150 {
		if err := s.createFor(s.users[i%len(s.users)]); err != nil {
			t.Fatal(err)
		}
	}

	start := time.Now()
	s.start = start
	cutAt := start.Add(duration * 2 / 5)
	stop := make(chan struct{})
	var wg sync.WaitGroup

	// Validations at rate per second, spread over the replicas and tokens.
	ticks := make(chan struct{}, rate)
	// The limits, checked in the database all along.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(500 * time.Millisecond):
				s.checkLimits(direct)
			}
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		tk := time.NewTicker(time.Second / time.Duration(rate))
		defer tk.Stop()
		for {
			select {
			case <-stop:
				close(ticks)
				return
			case <-tk.C:
				select {
				case ticks <- struct{}{}:
				default: // the workers are behind: drop, do not pile up
				}
			}
		}
	}()
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range ticks {
				tok, ok := s.pick()
				if !ok {
					continue
				}
				r := s.replicas[rand.N(len(s.replicas))]
				asked := time.Now()
				status, err := s.validate(r, tok.secret)
				s.count("validate", s.phase(time.Now()), status, err)
				if err == nil && status == http.StatusOK {
					if !tok.expiresAt.IsZero() && asked.After(tok.expiresAt) {
						s.expiredValid.Add(1)
					}
					s.used.Store(tok.id, true)
				}
			}
		}()
	}

	// Changes: two workers, each one change every 50 ms.
	var watchers sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tk := time.NewTicker(50 * time.Millisecond)
			defer tk.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tk.C:
				}
				s.change(&watchers)
			}
		}()
	}

	// The outage.
	time.Sleep(time.Until(cutAt))
	// Marked before the cut: what fails from the cut on belongs to the outage.
	s.mu.Lock()
	s.cutAt = time.Now()
	s.mu.Unlock()
	proxy.Cut()
	time.Sleep(outage)
	proxy.Restore()
	s.mu.Lock()
	s.restoredAt = time.Now()
	s.mu.Unlock()

	time.Sleep(time.Until(start.Add(duration)))
	close(stop)
	wg.Wait()
	watchers.Wait()

	s.report(duration, rate)
	s.checkLimits(direct)
	// SIGTERM for every replica: each writes its pending lastUsedAt values.
	for _, r := range s.replicas {
		r.Stop()
	}
	s.checkLastUsed(direct)
}

// The soak's limits: a user starts with 7 or 8 tokens.
const (
	soakCreateLimit = 40
	soakMaxActive   = 12
)

type soakToken struct {
	id, secret, user string
	expiresAt        time.Time // zero: never
}

type soak struct {
	t        *testing.T
	client   *http.Client
	replicas []*pattest.Replica
	users    []string

	start time.Time

	mu         sync.Mutex
	live       map[string]soakToken // id → token
	cutAt      time.Time
	restoredAt time.Time
	latencies  [2][]time.Duration // [normal, after outage]
	late       atomic.Int64       // revocations some replica still accepted after 1 s
	stats      map[string]map[string]int

	expiredValid atomic.Int64 // 200s for a token asked after its expiry
	overLimits   atomic.Int64 // samples that found a user above a limit
	used         sync.Map     // token id → validated at least once
}

const (
	phaseNormal = iota
	phaseAfterOutage
)

// afterOutage is the window after the restore whose revocations are
// reported apart.
const afterOutage = 2 * time.Second

func (s *soak) phase(at time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case !s.cutAt.IsZero() && s.restoredAt.IsZero():
		return "outage"
	case !s.restoredAt.IsZero() && at.Sub(s.restoredAt) < afterOutage:
		return "after-outage"
	}
	return "normal"
}

func (s *soak) count(op, phase string, status int, err error) {
	key := fmt.Sprint(status)
	if err != nil {
		key = "error"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.stats[op+" "+phase]
	if m == nil {
		m = map[string]int{}
		s.stats[op+" "+phase] = m
	}
	m[key]++
}

func (s *soak) pick() (soakToken, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := rand.N(len(s.live) + 1)
	for _, tok := range s.live {
		if n == 0 {
			return tok, true
		}
		n--
	}
	return soakToken{}, false
}

// take removes and returns a random live token, or every live token of a
// random user.
func (s *soak) take(all bool) []soakToken {
	s.mu.Lock()
	defer s.mu.Unlock()
	if all {
		user := s.users[rand.N(len(s.users))]
		var out []soakToken
		for id, tok := range s.live {
			if tok.user == user {
				out = append(out, tok)
				delete(s.live, id)
			}
		}
		return out
	}
	n := rand.N(len(s.live) + 1)
	for id, tok := range s.live {
		if n == 0 {
			delete(s.live, id)
			return []soakToken{tok}
		}
		n--
	}
	return nil
}

func (s *soak) put(tok soakToken) {
	s.mu.Lock()
	s.live[tok.id] = tok
	s.mu.Unlock()
}

func (s *soak) size() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.live)
}

func (s *soak) do(r *pattest.Replica, method, path, auth string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, r.URL+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (s *soak) validate(r *pattest.Replica, secret string) (int, error) {
	status, _, err := s.do(r, http.MethodPost, "/validate", "Bearer "+pattest.ServiceSecret, map[string]string{"token": secret})
	return status, err
}

func (s *soak) create() error { return s.createFor(s.users[rand.N(len(s.users))]) }

// createFor creates a token for user; one in five expires within seconds,
// so that validations after expiry are tried too.
func (s *soak) createFor(user string) error {
	r := s.replicas[rand.N(len(s.replicas))]
	body := map[string]any{"name": "soak"}
	var exp time.Time
	if rand.N(5) == 0 {
		exp = time.Now().Add(time.Duration(2+rand.N(6)) * time.Second).Truncate(time.Millisecond)
		body["expiresAt"] = exp.UnixMilli()
	}
	status, b, err := s.do(r, http.MethodPost, "/api/tokens", "Bearer "+r.JWT(user), body)
	s.count("create", s.phase(time.Now()), status, err)
	if err != nil || status != http.StatusCreated {
		return fmt.Errorf("create: %d %s %v", status, b, err)
	}
	var c struct {
		Token struct{ ID, Token string } `json:"token"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return err
	}
	s.put(soakToken{id: c.Token.ID, secret: c.Token.Token, user: user, expiresAt: exp})
	return nil
}

// checkLimits counts, in the database, every user's unexpired tokens and
// creations (creates and rotations); none may be above its limit.
func (s *soak) checkLimits(url string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return // the outage: nothing to sample
	}
	defer conn.Close(ctx)
	var active, created int
	err = conn.QueryRow(ctx, `
		SELECT
		  (SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM personal_access_tokens
		     WHERE expires_at IS NULL OR expires_at > now() GROUP BY user_id) a),
		  (SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM pat_audit_events
		     WHERE action IN ('create', 'rotate') GROUP BY user_id) c)`).Scan(&active, &created)
	if err != nil {
		return
	}
	if active > soakMaxActive || created > soakCreateLimit {
		s.overLimits.Add(1)
		s.t.Logf("a user holds %d active tokens (cap %d) and created %d (quota %d)", active, soakMaxActive, created, soakCreateLimit)
	}
}

// checkLastUsed asserts that every token validated during the run that still
// exists has a lastUsedAt, once every replica has stopped.
func (s *soak) checkLastUsed(url string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		s.t.Fatal(err)
	}
	defer conn.Close(ctx)
	var ids []string
	s.used.Range(func(k, _ any) bool { ids = append(ids, k.(string)); return true })
	var missing int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM personal_access_tokens WHERE id = ANY($1) AND last_used_at IS NULL`, ids).Scan(&missing); err != nil {
		s.t.Fatal(err)
	}
	s.t.Logf("lastUsedAt: %d tokens validated during the run, %d of those still stored lack lastUsedAt", len(ids), missing)
	if missing > 0 {
		s.t.Errorf("%d tokens validated during the run have no lastUsedAt after every replica stopped", missing)
	}
}

// change makes one random change; a revocation that succeeds is watched.
func (s *soak) change(watchers *sync.WaitGroup) {
	p := rand.N(100)
	if s.size() < 150 || p < 40 {
		_ = s.create()
		return
	}
	toks := s.take(p >= 90)
	if len(toks) == 0 {
		return
	}
	a := rand.N(len(s.replicas))
	r := s.replicas[a]
	// Every other replica has the tokens cached when they are revoked, so
	// that each of them must hear the revocation (or distrust its cache).
	for _, tok := range toks {
		for i, o := range s.replicas {
			if i != a {
				_, _ = s.validate(o, tok.secret)
			}
		}
	}
	var (
		op     string
		status int
		body   []byte
		err    error
		user   = toks[0].user
	)
	switch {
	case p >= 90:
		op = "revoke-all"
		status, body, err = s.do(r, http.MethodPost, "/internal/users/"+user+"/revoke-all", "Bearer "+pattest.ServiceSecret, nil)
	case p >= 70:
		op = "rotate"
		var st int
		st, body, err = s.do(r, http.MethodPost, "/graphql", "Bearer "+r.JWT(user), map[string]any{
			"query":     `mutation($id: ID!) { rotatePersonalAccessToken(id: $id) { id token } }`,
			"variables": map[string]any{"id": toks[0].id},
		})
		status = st
		var out struct {
			Data *struct {
				R *struct{ ID, Token string } `json:"rotatePersonalAccessToken"`
			}
			Errors []struct {
				Extensions struct{ Code string }
			}
		}
		_ = json.Unmarshal(body, &out)
		switch {
		case err != nil || st != http.StatusOK:
		case out.Data != nil && out.Data.R != nil:
			s.put(soakToken{id: out.Data.R.ID, secret: out.Data.R.Token, user: user, expiresAt: toks[0].expiresAt})
		case len(out.Errors) > 0 && out.Errors[0].Extensions.Code == "NOT_FOUND":
			status = http.StatusNotFound // GraphQL reports failures in a 200
		case len(out.Errors) > 0 && out.Errors[0].Extensions.Code == "BAD_USER_INPUT":
			status = http.StatusBadRequest // an expired token cannot keep its expiry
		case len(out.Errors) > 0 && (out.Errors[0].Extensions.Code == "RATE_LIMIT_EXCEEDED" || out.Errors[0].Extensions.Code == "MAX_TOKENS_EXCEEDED"):
			status = http.StatusTooManyRequests // a limit held: the old token stays
			s.put(toks[0])
		default:
			status = http.StatusInternalServerError
		}
	default:
		op = "delete"
		status, body, err = s.do(r, http.MethodDelete, "/api/tokens/"+toks[0].id, "Bearer "+r.JWT(user), nil)
	}
	returned := time.Now()
	phase := s.phase(returned)
	s.count(op, phase, status, err)
	if err != nil || status != http.StatusOK {
		// 404: a revoke-all of the user took the token first; 429: a limit
		// held; 400: the token had expired. None is a fault.
		if phase == "normal" && status >= 500 {
			s.t.Logf("%s failed outside the outage: %d %s %v", op, status, strings.TrimSpace(string(body)), err)
		}
		// Whether it happened is unknown: the tokens are not used again.
		return
	}
	if phase == "outage" {
		return
	}
	idx := phaseNormal
	if phase == "after-outage" {
		idx = phaseAfterOutage
	}
	if len(toks) > 3 {
		toks = toks[:3] // a revoke-all's first three: enough, without a storm of watchers
	}
	for _, tok := range toks {
		watchers.Add(1)
		go func() {
			defer watchers.Done()
			d := s.watch(a, tok.secret, returned)
			s.mu.Lock()
			s.latencies[idx] = append(s.latencies[idx], d)
			s.mu.Unlock()
			if d > time.Second {
				s.late.Add(1)
				s.t.Logf("%s (%s): a replica accepted the token %s after the call returned", op, phase, d.Round(time.Millisecond))
			}
		}()
	}
}

// watch polls every replica but the one at skip until none accepts secret,
// and returns how long after returned the last one did (5 s at most).
func (s *soak) watch(skip int, secret string, returned time.Time) time.Duration {
	var last time.Duration
	for i, r := range s.replicas {
		if i == skip {
			continue
		}
		for {
			status, err := s.validate(r, secret)
			d := time.Since(returned)
			// Refused is any answer but 200: a replica too busy to look the
			// token up (503) does not accept it either.
			if err == nil && status != http.StatusOK {
				last = max(last, d)
				break
			}
			if d > 5*time.Second {
				return d
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	return last
}

func (s *soak) report(duration time.Duration, rate int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pct := func(ds []time.Duration) string {
		if len(ds) == 0 {
			return "no samples"
		}
		ds = slices.Clone(ds)
		slices.Sort(ds)
		at := func(p float64) time.Duration { return ds[min(len(ds)-1, int(p*float64(len(ds))))] }
		return fmt.Sprintf("n=%d p50=%s p99=%s max=%s", len(ds), at(0.50).Round(100*time.Microsecond),
			at(0.99).Round(100*time.Microsecond), ds[len(ds)-1].Round(100*time.Microsecond))
	}
	s.t.Logf("soak: 3 replicas, %s, %d validations/s, PostgreSQL cut %s after the start for %s",
		duration, rate, s.cutAt.Sub(s.start).Round(time.Millisecond), s.restoredAt.Sub(s.cutAt).Round(time.Millisecond))
	s.t.Logf("revocation latency, normal running:          %s", pct(s.latencies[phaseNormal]))
	s.t.Logf("revocation latency, 2 s after the outage:    %s", pct(s.latencies[phaseAfterOutage]))
	keys := make([]string, 0, len(s.stats))
	for k := range s.stats {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		s.t.Logf("%-26s %v", k, s.stats[k])
	}
	if n := s.late.Load(); n > 0 {
		s.t.Errorf("%d revocations were still accepted by another replica more than 1 s after the call returned", n)
	}
	for _, k := range keys {
		if strings.HasSuffix(k, " normal") {
			for status, n := range s.stats[k] {
				if status == "error" || status >= "500" {
					s.t.Errorf("%s: %d answers %s outside the outage", k, n, status)
				}
			}
		}
	}
	if len(s.latencies[phaseAfterOutage]) == 0 {
		s.t.Error("no revocation succeeded in the 2 s after the outage")
	}
	if n := s.expiredValid.Load(); n > 0 {
		s.t.Errorf("%d validations answered 200 for a token after its expiry", n)
	}
	if n := s.overLimits.Load(); n > 0 {
		s.t.Errorf("%d samples found a user above the creation quota or the active cap", n)
	}
}

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return d
}
