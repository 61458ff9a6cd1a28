package pat

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/alternatefutures/patd/db"
)

// LockUser takes userID's lock in tx as a create or a rotation does.
func LockUser(ctx context.Context, tx pgx.Tx, userID string) error {
	return lockUser(ctx, db.New(tx), userID)
}
