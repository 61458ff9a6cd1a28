package pat

import (
	"context"

	"github.com/alternatefutures/patd/db"
)

// Namespaces of patd's PostgreSQL advisory locks, the first key of the
// two-int form pg_advisory_lock(namespace, key) (pg_locks shows it as
// classid). Each kind of lock has its own, so that no key of one kind (a user
// id, say "cleanup") can ever be the key of another: the two would serialise
// each other. A new kind of lock gets a new constant here.
const (
	// LockNamespaceUser: key hashtext(user id), held per transaction while a
	// user's tokens change.
	LockNamespaceUser int32 = 0x70617401
	// LockNamespaceCleanup: key 0, held by the one replica cleaning up.
	LockNamespaceCleanup int32 = 0x70617402
)

// lockUser serialises changes to userID's tokens for the rest of q's
// transaction, so that the max-active check and the insert that follows it
// cannot race.
func lockUser(ctx context.Context, q txQueries, userID string) error {
	return q.LockUserTokens(ctx, db.LockUserTokensParams{Namespace: LockNamespaceUser, UserID: userID})
}
