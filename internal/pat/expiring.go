package pat

import (
	"context"
	"time"

	"github.com/alternatefutures/patd/db"
)

// expiryMarks are the token.expiring notices: days before expiresAt. A
// token already inside a later mark gets only that one (a token with 12 hours
// left is not told "7 days").
var expiryMarks = []int{7, 1}

// expiringBatch bounds one claiming transaction.
const expiringBatch = 500

// NotifyExpiring sends token.expiring for every token that has crossed one
// of the marks since it was created and was not told yet; the notice rows
// claimed in the same transaction as the events make each one go out once,
// however many replicas run this at once. Without an outbox it does nothing.
// It returns how many events it wrote.
func (m *Maintenance) NotifyExpiring(ctx context.Context, now time.Time) (int, error) {
	if m.outbox == nil {
		return 0, nil
	}
	total := 0
	for i, days := range expiryMarks {
		inside := 0 // days of the next, nearer mark
		if i+1 < len(expiryMarks) {
			inside = expiryMarks[i+1]
		}
		for {
			var n int
			err := m.inTx(ctx, func(q txQueries) error {
				rows, err := q.ClaimExpiryNotices(ctx, db.ClaimExpiryNoticesParams{
					After:       now.Add(time.Duration(inside) * 24 * time.Hour),
					Until:       now.Add(time.Duration(days) * 24 * time.Hour),
					LeadSeconds: float64(days * 24 * 60 * 60),
					Days:        int32(days),
					BatchSize:   expiringBatch,
					SentAt:      now,
				})
				if err != nil {
					return err
				}
				n = len(rows)
				evs := make([]Event, n)
				for i, r := range rows {
					evs[i] = tokenEvent(EventExpiring, toToken(r), now, map[string]any{"daysLeft": days})
				}
				return m.emit(ctx, q, evs...)
			})
			if err != nil {
				return total, err
			}
			total += n
			if n < expiringBatch {
				break
			}
		}
	}
	return total, nil
}
