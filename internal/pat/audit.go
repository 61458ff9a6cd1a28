package pat

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/alternatefutures/patd/db"
	"github.com/alternatefutures/patd/internal/metrics"
	"github.com/alternatefutures/patd/internal/requestinfo"
)

// Action is what an audit event records.
type Action string

// Audit actions, as stored in pat_audit_events.action.
const (
	ActionCreate    Action = "create"
	ActionDelete    Action = "delete"
	ActionRotate    Action = "rotate"
	ActionRevokeAll Action = "revoke_all"
	ActionImport    Action = "import"
	ActionCleanup   Action = "cleanup"
	// ActionLeaked: revoked because a secret scanner found it in public;
	// detail says where (url, source).
	ActionLeaked Action = "leaked"
)

// removalActions are the actions after which a token is gone for good: an
// import must not bring it back.
var removalActions = []string{string(ActionDelete), string(ActionRotate), string(ActionRevokeAll), string(ActionCleanup), string(ActionLeaked)}

// Actors of audit events that no user caused; a user's own change names the user.
const (
	ActorService = "service" // a backend holding the service secret
	ActorSystem  = "system"  // patd itself (expired-token cleanup)
	ActorImport  = "import"  // patd import
)

// store is what every part of the package shares: the pool, its queries, and
// the transaction, audit and event helpers.
type store struct {
	pool *pgxpool.Pool
	q    *db.Queries
	// dbMetrics counts transaction retries; may be nil.
	dbMetrics *metrics.Metrics
	// outbox receives lifecycle events (nil: no webhooks).
	outbox Outbox
}

func newStore(pool *pgxpool.Pool, m *metrics.Metrics) store {
	return store{pool: pool, q: db.New(pool), dbMetrics: m}
}

// inTx runs fn in one transaction, and again when PostgreSQL aborted it for
// a deadlock or a serialization failure (see retryTx): fn may so run more
// than once, and must set what it returns through its closure afresh each
// time.
func (s store) inTx(ctx context.Context, fn func(q txQueries) error) error {
	return s.inPgxTx(ctx, func(tx pgx.Tx) error {
		return fn(txQueries{s.q.WithTx(tx), tx})
	})
}

// txQueries are the queries of one transaction, with the transaction itself
// for what writes in it besides them: the outbox (emit).
type txQueries struct {
	*db.Queries
	tx pgx.Tx
}

func (s store) inPgxTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return retryTx(ctx, s.dbMetrics, func() error { return pgx.BeginFunc(ctx, s.pool, fn) })
}

// txAttempts bounds how often one transaction runs. PostgreSQL aborts one
// transaction of a deadlock (40P01) or a serialization failure (40001), and
// running it again is the remedy; rows are locked in one order everywhere, so
// a retry rarely meets the same conflict, and one that keeps failing is not a
// race but a fault, returned to the caller.
const txAttempts = 4

// retryTx calls run, a whole transaction, until it succeeds, fails otherwise
// than by a deadlock or a serialization failure, or has run txAttempts times.
// Each retry waits a few milliseconds, at random, so that the transactions
// that collided do not start again in step, and is counted in m.
func retryTx(ctx context.Context, m *metrics.Metrics, run func() error) error {
	for attempt := 1; ; attempt++ {
		err := run()
		reason := retryReason(err)
		if reason == "" || attempt == txAttempts {
			return err
		}
		m.TransactionRetry(reason)
		wait := time.Duration(attempt) * (2*time.Millisecond + rand.N(8*time.Millisecond))
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// retryReason names the transient failure err is, or "" for any other error.
func retryReason(err error) string {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return ""
	}
	switch pgErr.Code {
	case "40P01": // deadlock_detected
		return "deadlock"
	case "40001": // serialization_failure
		return "serialization_failure"
	}
	return ""
}

// audit records one change; never the token itself.
func audit(ctx context.Context, q txQueries, action Action, actorID, userID string, tokenID *string, detail map[string]any) error {
	info := requestinfo.FromContext(ctx)
	if detail == nil {
		detail = map[string]any{}
	}
	d, err := json.Marshal(detail)
	if err != nil {
		return err
	}
	return q.InsertAuditEvent(ctx, db.InsertAuditEventParams{
		Action:    string(action),
		ActorID:   actorID,
		UserID:    userID,
		TokenID:   tokenID,
		Detail:    d,
		ClientIp:  info.ClientIP,
		UserAgent: info.UserAgent,
		RequestID: info.ID,
	})
}

// auditMany records one event per token in one statement; details, when
// not nil, holds each event's detail as JSON (nil: {} for all).
func auditMany(ctx context.Context, q txQueries, action Action, actorID string, userIDs, tokenIDs []string, details [][]byte) error {
	info := requestinfo.FromContext(ctx)
	return q.InsertAuditEvents(ctx, db.InsertAuditEventsParams{
		Action:    string(action),
		ActorID:   actorID,
		UserIds:   userIDs,
		TokenIds:  tokenIDs,
		Details:   details,
		ClientIp:  info.ClientIP,
		UserAgent: info.UserAgent,
		RequestID: info.ID,
	})
}
