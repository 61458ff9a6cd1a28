package pat

import (
	"context"
	"encoding/hex"
	"math/rand/v2"
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
// A replica whose listening connection breaks may miss notifications, and the
// pool may be back (deleting tokens) before the listener is: from the moment
// it stops hearing, the replica serves cached answers only while they are
// under a second old (counted from their lookup), reconnects at once and then
// every quarter second at most, and clears its whole cache when it listens
// again.
const revocationChannel = "patd_revoked"

// A connection that died without a reset delivers nothing, and only a round
// trip tells: the listening connection is pinged when it has been quiet for
// listenHeartbeat, and a ping that takes longer than pingTimeout counts as a
// break. A silent death is so noticed within 1.5 s.
const (
	listenHeartbeat = 500 * time.Millisecond
	pingTimeout     = time.Second
)

// maxListenBackoff bounds the wait between attempts to listen again: while
// nobody listens the cache holds only answers under a second old, so every
// moment without a listener costs lookups.
const maxListenBackoff = 250 * time.Millisecond

// listenConnectTimeout bounds connecting and LISTENing; an address that
// swallows packets must not hold the listener for the kernel's TCP timeout.
const listenConnectTimeout = 5 * time.Second

// maxNotifyHashes keeps each payload well under PostgreSQL's 8000-byte limit.
const maxNotifyHashes = 100

// notifyRevoked queues, in the transaction of q, a notification for each hash.
func notifyRevoked(ctx context.Context, q txQueries, hashes [][]byte) error {
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
// done, reconnecting when it breaks: at once, then with a short backoff.
func (v *Validator) ListenRevocations(ctx context.Context) {
	var (
		backoff  time.Duration
		lastWarn time.Time
	)
	for ctx.Err() == nil {
		heard, err := v.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if heard {
			backoff = 0 // it had been listening: a fresh failure, try again at once
		}
		// During an outage attempts fail several times a second: warn about
		// the break, then every ten seconds while it lasts.
		if heard || time.Since(lastWarn) >= 10*time.Second {
			lastWarn = time.Now()
			v.log.WarnContext(ctx, "revocation listener disconnected; reconnecting", "error", err)
		}
		if backoff > 0 {
			// Jitter, so that replicas cut off together do not retry in step.
			wait := backoff/2 + rand.N(backoff/2+1)
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		backoff = min(max(2*backoff, 25*time.Millisecond), maxListenBackoff)
	}
}

// listenOnce listens on a new connection until it fails. heard reports
// whether it got as far as listening.
func (v *Validator) listenOnce(ctx context.Context) (heard bool, err error) {
	cctx, cancel := context.WithTimeout(ctx, listenConnectTimeout)
	defer cancel()
	// pgx's default context handling interrupts the wait with a deadline, so
	// the heartbeat's timeouts leave the connection usable.
	conn, err := pgx.ConnectConfig(cctx, v.pool.Config().ConnConfig.Copy())
	if err != nil {
		return false, err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(cctx, "LISTEN "+revocationChannel); err != nil {
		return false, err
	}
	// Whatever was revoked while nobody listened is unknown: start afresh.
	// Clearing moves the cache's generation, so lookups that began before
	// LISTEN do not store what they read.
	v.cache.Clear()
	v.cache.Restrict(0)
	v.listening.Store(true)
	v.log.InfoContext(ctx, "listening for revocations")
	// The moment notices may have stopped, before anything else.
	defer v.stopHearing()
	for {
		wctx, cancel := context.WithTimeout(ctx, listenHeartbeat)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil && wctx.Err() != nil {
				pctx, cancel := context.WithTimeout(ctx, pingTimeout)
				err := conn.Ping(pctx)
				cancel()
				if err != nil {
					return true, err
				}
				continue
			}
			return true, err
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

// stopHearing is called when the listening connection fails: notices may be
// missed from now on, so cached answers, those already held included, are
// served only while they are under unheardTTL old.
func (v *Validator) stopHearing() {
	v.cache.Restrict(unheardTTL)
	v.listening.Store(false)
}
