package limit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis timeouts: short, since a slow Redis must fail creates quickly.
const (
	dialTimeout = time.Second
	ioTimeout   = 500 * time.Millisecond
)

// NewRedisClient connects to the Redis in rawURL: redis:// or rediss:// for a
// single server (or a primary behind a proxy); for Redis Cluster, the same URL
// with the other seed nodes as addr parameters, e.g.
// redis://node1:6379?addr=node2:6379&addr=node3:6379. Timeouts are short:
// creation fails closed when Redis is slow, and validation never waits on it.
func NewRedisClient(rawURL string) (redis.UniversalClient, error) {
	// Parse errors quote the URL, password and all: say only what is wrong.
	errBad := errors.New("REDIS_URL: not a valid redis:// or rediss:// URL")
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errBad
	}
	if u.Query().Has("addr") {
		opts, err := redis.ParseClusterURL(rawURL)
		if err != nil {
			return nil, errBad
		}
		opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout, opts.MaxRetries = dialTimeout, ioTimeout, ioTimeout, 1
		return redis.NewClusterClient(opts), nil
	}
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, errBad
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout, opts.MaxRetries = dialTimeout, ioTimeout, ioTimeout, 1
	return redis.NewClient(opts), nil
}

// RedisQuota is a Quota shared by every replica: each key is a sorted set of
// its uses scored by time, changed only by atomic scripts that read the clock
// of Redis itself, so replicas' clocks do not matter. Keys carry a {hash tag}
// so that each script touches one slot and runs unchanged on Redis Cluster.
type RedisQuota struct {
	client redis.UniversalClient
	prefix string
	limit  int
	window time.Duration
}

// NewRedisQuota returns a quota of limit uses per window, with keys under prefix.
func NewRedisQuota(client redis.UniversalClient, prefix string, limit int, window time.Duration) *RedisQuota {
	return &RedisQuota{client: client, prefix: prefix, limit: limit, window: window}
}

func (q *RedisQuota) key(k string) string { return q.prefix + "quota:{" + k + "}" }

// takeScript drops uses that left the window, then takes a slot if one is
// free. It returns {1, uses now, resetAt in ms} when taken, or
// {0, uses, resetAt in ms} when not.
var takeScript = redis.NewScript(`
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local taken = 0
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  taken = 1
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {taken, redis.call('ZCARD', KEYS[1]), tonumber(oldest[2]) + window}
`)

// usageScript returns {uses in the window, resetAt in ms} (resetAt is now
// when there are none).
var usageScript = redis.NewScript(`
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
if n == 0 then
  return {0, now}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {n, tonumber(oldest[2]) + window}
`)

// Take implements Quota.
func (q *RedisQuota) Take(ctx context.Context, key string) (Reservation, error) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	r := Reservation{key: key, member: hex.EncodeToString(b[:])}
	res, err := takeScript.Run(ctx, q.client, []string{q.key(key)}, q.window.Milliseconds(), q.limit, r.member).Int64Slice()
	if err != nil {
		return Reservation{}, fmt.Errorf("redis quota: %w", err)
	}
	if res[0] == 0 {
		return Reservation{}, &ExceededError{Limit: q.limit, Window: q.window, ResetAt: time.UnixMilli(res[2])}
	}
	r.After = Usage{Limit: q.limit, Window: q.window, Remaining: max(q.limit-int(res[1]), 0), ResetAt: time.UnixMilli(res[2])}
	return r, nil
}

// Release implements Quota.
func (q *RedisQuota) Release(ctx context.Context, r Reservation) error {
	if err := q.client.ZRem(ctx, q.key(r.key), r.member).Err(); err != nil {
		return fmt.Errorf("redis quota: %w", err)
	}
	return nil
}

// Usage implements Quota.
func (q *RedisQuota) Usage(ctx context.Context, key string) (Usage, error) {
	res, err := usageScript.Run(ctx, q.client, []string{q.key(key)}, q.window.Milliseconds()).Int64Slice()
	if err != nil {
		return Usage{}, fmt.Errorf("redis quota: %w", err)
	}
	return Usage{Limit: q.limit, Window: q.window, Remaining: max(q.limit-int(res[0]), 0), ResetAt: time.UnixMilli(res[1])}, nil
}

// Ping checks that Redis answers (for /readyz).
func Ping(ctx context.Context, c redis.UniversalClient) error {
	if cc, ok := c.(*redis.ClusterClient); ok {
		return cc.ForEachShard(ctx, func(ctx context.Context, s *redis.Client) error { return s.Ping(ctx).Err() })
	}
	return c.Ping(ctx).Err()
}
