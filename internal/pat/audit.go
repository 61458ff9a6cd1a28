package pat

import (
	"context"
	"encoding/json"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/alternatefutures/patd/db"
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
	// outbox receives lifecycle events (nil: no webhooks); txs lets emit
	// find the transaction of the queries it is given.
	outbox Outbox
	txs    *txRegistry
}

func newStore(pool *pgxpool.Pool) store {
	return store{pool: pool, q: db.New(pool), txs: &txRegistry{}}
}

// inTx runs fn in one transaction.
func (s store) inTx(ctx context.Context, fn func(q *db.Queries) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		s.txs.put(q, tx)
		defer s.txs.drop(q)
		return fn(q)
	})
}

// audit records one change; never the token itself.
func audit(ctx context.Context, q *db.Queries, action Action, actorID, userID string, tokenID *string, detail map[string]any) error {
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

// auditMany records one event per token in one statement.
func auditMany(ctx context.Context, q *db.Queries, action Action, actorID string, userIDs, tokenIDs []string) error {
	info := requestinfo.FromContext(ctx)
	return q.InsertAuditEvents(ctx, db.InsertAuditEventsParams{
		Action:    string(action),
		ActorID:   actorID,
		UserIds:   userIDs,
		TokenIds:  tokenIDs,
		ClientIp:  info.ClientIP,
		UserAgent: info.UserAgent,
		RequestID: info.ID,
	})
}
