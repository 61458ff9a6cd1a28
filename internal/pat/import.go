package pat

import (
	"context"
	"fmt"
	"time"

	"github.com/alternatefutures/patd/db"
	"github.com/alternatefutures/patd/internal/legacy"
	"github.com/alternatefutures/patd/internal/token"
)

// ImportBatchSize is how many rows one Import call should be given: each
// batch is one transaction and one round trip.
const ImportBatchSize = 1000

// defaultImportedName names imported tokens that had none.
const defaultImportedName = "imported token"

// Import stores a batch of tokens exported from the old backend, hashed,
// keeping their ids and timestamps, in one transaction with an audit event
// for each. A token already present (same id or same hash) is skipped, and so
// is one removed since an earlier import (by its hash, whatever its id), so
// importing a file twice imports nothing twice and brings nothing back.
func (m *Maintenance) Import(ctx context.Context, tokens []legacy.Token) (imported, skipped int, err error) {
	now := time.Now()
	rows := make([]db.ImportTokenParams, len(tokens))
	for i, t := range tokens {
		h := token.Hash(t.Secret)
		created := now
		if t.CreatedAt != nil {
			created = *t.CreatedAt
		}
		updated := created
		if t.UpdatedAt != nil {
			updated = *t.UpdatedAt
		}
		name := t.Name
		if name == "" {
			name = defaultImportedName
		}
		rows[i] = db.ImportTokenParams{
			ID:             t.ID,
			UserID:         t.UserID,
			Name:           name,
			TokenHash:      h[:],
			TokenStart:     token.Start(t.Secret),
			ExpiresAt:      t.ExpiresAt,
			LastUsedAt:     t.LastUsedAt,
			CreatedAt:      created,
			UpdatedAt:      updated,
			RemovalActions: removalActions,
		}
	}
	err = m.inTx(ctx, func(q txQueries) error {
		var ids, users []string
		var batchErr error
		q.ImportToken(ctx, rows).Query(func(i int, inserted []string, err error) {
			switch {
			case batchErr != nil:
			case err != nil:
				batchErr = fmt.Errorf("line %d: %w", tokens[i].Line, err)
			case len(inserted) == 1:
				ids, users = append(ids, tokens[i].ID), append(users, tokens[i].UserID)
			}
		})
		if batchErr != nil {
			return batchErr
		}
		imported, skipped = len(ids), len(tokens)-len(ids)
		if len(ids) == 0 {
			return nil
		}
		return auditMany(ctx, q, ActionImport, ActorImport, users, ids, nil)
	})
	if err != nil {
		return 0, 0, err
	}
	return imported, skipped, nil
}
