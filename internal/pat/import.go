package pat

import (
	"context"
	"fmt"
	"time"

	"github.com/alternatefutures/patd/db"
	"github.com/alternatefutures/patd/internal/legacy"
	"github.com/alternatefutures/patd/internal/token"
)

// Import stores tokens exported from the old backend, hashed, keeping their ids
// and timestamps, in one transaction with an audit event for each. A token
// already present (same id or same hash) is skipped, so importing a file twice
// imports nothing twice.
func (m *Maintenance) Import(ctx context.Context, tokens []legacy.Token) (imported, skipped int, err error) {
	now := time.Now()
	err = m.inTx(ctx, func(q *db.Queries) error {
		imported, skipped = 0, 0
		var ids, users []string
		for _, t := range tokens {
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
				name = "imported token"
			}
			n, err := q.ImportToken(ctx, db.ImportTokenParams{
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
			})
			if err != nil {
				return fmt.Errorf("line %d: %w", t.Line, err)
			}
			if n == 0 {
				skipped++
				continue
			}
			imported++
			ids, users = append(ids, t.ID), append(users, t.UserID)
		}
		if len(ids) == 0 {
			return nil
		}
		return auditMany(ctx, q, ActionImport, ActorImport, users, ids)
	})
	if err != nil {
		return 0, 0, err
	}
	return imported, skipped, nil
}
