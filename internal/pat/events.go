package pat

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/alternatefutures/patd/db"
	"github.com/alternatefutures/patd/internal/auth"
)

// DefaultEventPageSize is how many events a page of the security log holds
// when the caller does not say; at most MaxPageSize.
const DefaultEventPageSize = 50

// actionLeaked is recorded when a secret scanner reports a token that patd
// revokes (the contract's leak reports).
const actionLeaked Action = "leaked"

// EventActions are the audit actions the security log shows, in the order of
// the GraphQL enum. An action a newer replica records and this one does not
// know is left out of its answers rather than failing them.
var EventActions = []Action{ActionCreate, ActionDelete, ActionRotate, ActionRevokeAll, ActionCleanup, actionLeaked, ActionImport}

var eventActionNames = func() []string {
	out := make([]string, len(EventActions))
	for i, a := range EventActions {
		out[i] = string(a)
	}
	return out
}()

// Event is one entry of a user's security log: a change to one of their
// tokens. It never holds the token itself.
type Event struct {
	ID      string
	Action  Action
	TokenID string
	// TokenName is the token's name, empty when patd no longer knows it.
	TokenName string
	// ActorID is who made the change: the user's id, or ActorService,
	// ActorSystem, ActorImport.
	ActorID   string
	ClientIP  string
	UserAgent string
	CreatedAt time.Time
}

// EventPage is one page of a user's security log, newest first.
type EventPage struct {
	Events      []Event
	TotalCount  int
	HasNextPage bool
	EndCursor   string // empty when the page is empty
}

// Events returns a page of the caller's security log, newest first. first is
// 1 to MaxPageSize; after is the EndCursor of the previous page, or empty.
func (s *Service) Events(ctx context.Context, p auth.Principal, first int, after string) (EventPage, error) {
	if err := requireUser(p); err != nil {
		return EventPage{}, err
	}
	if first < 1 || first > MaxPageSize {
		return EventPage{}, inputError(ReasonInvalidPagination, "first must be between 1 and %d", MaxPageSize)
	}
	arg := db.ListUserEventsParams{UserID: p.UserID, Actions: eventActionNames, MaxRows: int32(first + 1)}
	if after != "" {
		// The same cursor shape as token pages; an event's id is a number,
		// so a token cursor (a UUID) is refused here.
		t, raw, err := decodeCursor(after)
		id, perr := strconv.ParseInt(raw, 10, 64)
		if err != nil || perr != nil {
			return EventPage{}, inputError(ReasonInvalidPagination, "after is not a cursor this API returned")
		}
		arg.AfterCreatedAt, arg.AfterID = &t, &id
	}
	rows, err := s.q.ListUserEvents(ctx, arg)
	if err != nil {
		return EventPage{}, fmt.Errorf("list events: %w", err)
	}
	var total int64
	switch {
	case len(rows) > 0:
		total = rows[0].TotalCount
	case after != "":
		if total, err = s.q.CountUserEvents(ctx, db.CountUserEventsParams{UserID: p.UserID, Actions: eventActionNames}); err != nil {
			return EventPage{}, fmt.Errorf("count events: %w", err)
		}
	}
	page := EventPage{TotalCount: int(total), HasNextPage: len(rows) > first}
	rows = rows[:min(len(rows), first)]
	page.Events = make([]Event, len(rows))
	for i, r := range rows {
		page.Events[i] = Event{
			ID:        strconv.FormatInt(r.ID, 10),
			Action:    Action(r.Action),
			TokenID:   deref(r.TokenID),
			TokenName: r.TokenName,
			ActorID:   r.ActorID,
			ClientIP:  r.ClientIp,
			UserAgent: r.UserAgent,
			CreatedAt: r.CreatedAt.UTC(),
		}
	}
	if len(rows) > 0 {
		last := rows[len(rows)-1]
		page.EndCursor = encodeCursor(last.CreatedAt, strconv.FormatInt(last.ID, 10))
	}
	return page, nil
}
