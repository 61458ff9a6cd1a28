package pat

import (
	"context"
	"encoding/hex"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/alternatefutures/patd/db"
)

// Revocations reach every replica through PostgreSQL LISTEN/NOTIFY: the
// transaction that deletes a token, or changes when it expires, also notifies
// its hash, so the notification is sent if and only if the change commits. Each
// replica listens on its own connection and drops the cached answer.
//
// A replica whose listening connection breaks may miss notifications: it
// clears its whole cache when it listens again, and until then cached answers
// live at most PAT_CACHE_TTL, the backstop.
const revocationChannel = "patd_revoked"

// listenHeartbeat is how long the listening connection may stay quiet before
// it is checked.
const listenHeartbeat = 5 * time.Second

// maxNotifyHashes keeps each payload well under PostgreSQL's 8000-byte limit.
const maxNotifyHashes = 100

// notifyRevoked queues, in the transaction of q, a notification for each hash.
func notifyRevoked(ctx context.Context, q *db.Queries, hashes [][]byte) error {
	for len(hashes) > 0 {
		n := min(len(hashes), maxNotifyHashes)
		parts := make([]string, n)
		for i, h := range hashes[:n] {
			parts[i] = hex.EncodeToString(h)
		}
		if err := q.NotifyRevoked(ctx, db.NotifyRevokedParams{Channel: revocationChannel, Hashes: strings.Join(parts, ",")}); err != nil {
			return err
		}
		hashes = hashes[n:]
	}
	return nil
}

// forget drops cached answers for hashes on this replica at once, without
// waiting for its own notification to come back.
func (v *Validator) forget(hashes [][]byte) {
	keys := make([][32]byte, 0, len(hashes))
	for _, h := range hashes {
		if len(h) == 32 {
			keys = append(keys, [32]byte(h))
		}
	}
	v.cache.Forget(keys...)
}

// Listening reports whether this replica currently receives revocations.
func (v *Validator) Listening() bool { return v.listening.Load() }

// ListenRevocations keeps a connection listening for revocations until ctx is
// done, reconnecting with backoff when it breaks.
func (v *Validator) ListenRevocations(ctx context.Context) {
	const minBackoff = 100 * time.Millisecond
	backoff := minBackoff
	for ctx.Err() == nil {
		err := v.listenOnce(ctx)
		if v.listening.Swap(false) {
			backoff = minBackoff // it had been listening: a fresh failure
		}
		if ctx.Err() != nil {
			return
		}
		v.log.WarnContext(ctx, "revocation listener disconnected; reconnecting", "error", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (v *Validator) listenOnce(ctx context.Context) error {
	// pgx's default context handling interrupts the wait with a deadline, so
	// the heartbeat's timeouts leave the connection usable.
	conn, err := pgx.ConnectConfig(ctx, v.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+revocationChannel); err != nil {
		return err
	}
	// Whatever was revoked while nobody listened is unknown: start afresh.
	v.cache.Clear()
	v.listening.Store(true)
	v.log.InfoContext(ctx, "listening for revocations")
	for {
		// A connection that died silently never delivers another notice:
		// check it whenever it has been quiet for a while.
		wctx, cancel := context.WithTimeout(ctx, listenHeartbeat)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil && wctx.Err() != nil {
				if err := conn.Ping(ctx); err != nil {
					return err
				}
				continue
			}
			return err
		}
		// Even a notice naming nothing readable moves the generation:
		// lookups under way then do not cache what they read.
		var keys [][32]byte
		for _, part := range strings.Split(n.Payload, ",") {
			var h [32]byte
			if len(part) == 64 {
				if _, err := hex.Decode(h[:], []byte(part)); err == nil {
					keys = append(keys, h)
				}
			}
		}
		v.cache.Forget(keys...)
	}
}
