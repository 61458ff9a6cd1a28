package pat

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/alternatefutures/patd/db"
	"github.com/alternatefutures/patd/internal/date"
)

// EventType names a lifecycle event, as webhook receivers see it.
type EventType string

// Lifecycle events.
const (
	EventCreated  EventType = "token.created"
	EventRotated  EventType = "token.rotated"
	EventRevoked  EventType = "token.revoked"
	EventExpiring EventType = "token.expiring"
)

// Reasons of a token.revoked event.
const (
	ReasonDeleted    = "deleted"
	ReasonRotated    = "rotated"
	ReasonRevokedAll = "revoked_all"
	ReasonLeaked     = "leaked"
	ReasonExpired    = "expired"
)

// Event is one lifecycle event of one token. Data never holds the token.
type Event struct {
	Type    EventType
	TokenID string
	Time    time.Time
	Data    map[string]any
}

// Outbox writes events in the transaction of the change they tell about, so
// that an event exists if and only if its change commits.
type Outbox interface {
	Write(ctx context.Context, tx pgx.Tx, events []Event) error
}

// emit writes events in q's transaction; without an outbox (no webhooks
// configured) it does nothing.
func (s store) emit(ctx context.Context, q txQueries, events ...Event) error {
	if s.outbox == nil || len(events) == 0 {
		return nil
	}
	return s.outbox.Write(ctx, q.tx, events)
}

// tokenEvent describes t for an event: ids, name, mask, owner, dates; extra
// adds event-specific fields (reason, newTokenId, …).
func tokenEvent(typ EventType, t Token, now time.Time, extra map[string]any) Event {
	data := map[string]any{
		"id":             t.ID,
		"name":           t.Name,
		"maskedToken":    t.MaskedToken,
		"userId":         t.UserID,
		"organizationId": t.OrganizationID,
		"expiresAt":      date.FormatPtr(t.ExpiresAt),
		"createdAt":      date.Format(t.CreatedAt),
	}
	for k, v := range extra {
		data[k] = v
	}
	return Event{Type: typ, TokenID: t.ID, Time: now, Data: data}
}

// revokedEvents are token.revoked events with reason for rows; extra[i],
// when given, adds fields to the i-th.
func revokedEvents(rows []db.PersonalAccessToken, reason string, now time.Time, extra []map[string]any) []Event {
	evs := make([]Event, len(rows))
	for i, r := range rows {
		x := map[string]any{"reason": reason}
		if extra != nil {
			for k, v := range extra[i] {
				x[k] = v
			}
		}
		evs[i] = tokenEvent(EventRevoked, toToken(r), now, x)
	}
	return evs
}

// rotationEvents tell that old was rotated into created: token.rotated for
// old (naming the new id), token.created for the new token, and, without a
// grace period, token.revoked for old (reason rotated). With a grace period
// old ends later, when the cleanup deletes it (reason expired).
func rotationEvents(old db.PersonalAccessToken, created Token, graceSeconds int, now time.Time) []Event {
	o := toToken(old)
	if graceSeconds > 0 {
		end := now.Add(time.Duration(graceSeconds) * time.Second)
		if o.ExpiresAt == nil || o.ExpiresAt.After(end) {
			o.ExpiresAt = &end
		}
	}
	evs := []Event{
		tokenEvent(EventRotated, o, now, map[string]any{"newTokenId": created.ID, "gracePeriodSeconds": graceSeconds}),
		tokenEvent(EventCreated, created, now, map[string]any{"rotatedFromId": old.ID}),
	}
	if graceSeconds == 0 {
		evs = append(evs, tokenEvent(EventRevoked, o, now, map[string]any{"reason": ReasonRotated}))
	}
	return evs
}
