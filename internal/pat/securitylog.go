package pat

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/alternatefutures/patd/db"
	"github.com/alternatefutures/patd/internal/auth"
)

// The security log: a user's audit events, as the web app shows them
// (personalAccessTokenEvents). Lifecycle events for webhooks are events.go.

// DefaultLogPageSize is how many entries a page of the security log holds
// when the caller does not say; at most MaxPageSize.
const DefaultLogPageSize = 50

// LogActions are the audit actions the security log shows, in the order of
// the GraphQL enum. An action a newer replica records and this one does not
// know is left out of its answers rather than failing them.
var LogActions = []Action{ActionCreate, ActionDelete, ActionRotate, ActionRevokeAll, ActionCleanup, ActionLeaked, ActionImport}

var logActionNames = func() []string {
	out := make([]string, len(LogActions))
	for i, a := range LogActions {
		out[i] = string(a)
	}
	return out
}()

// LogEntry is one entry of a user's security log: a change to one of their
// tokens. It never holds the token itself.
type LogEntry struct {
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

// LogPage is one page of a user's security log, newest first.
type LogPage struct {
	Entries     []LogEntry
	TotalCount  int
	HasNextPage bool
	EndCursor   string // empty when the page is empty
}

// SecurityLog returns a page of the caller's security log, newest first.
// first is 1 to MaxPageSize; after is the EndCursor of the previous page, or
// empty.
func (s *Service) SecurityLog(ctx context.Context, p auth.Principal, first int, after string) (LogPage, error) {
	if err := requireUser(p); err != nil {
		return LogPage{}, err
	}
	if err := checkFirst(first); err != nil {
		return LogPage{}, err
	}
	arg := db.ListUserEventsParams{UserID: p.UserID, Actions: logActionNames, MaxRows: int32(first + 1)}
	if after != "" {
		// The same cursor shape as token pages; an entry's id is a number,
		// so a token cursor (a UUID) is refused here.
		t, raw, err := decodeCursor(after)
		id, perr := strconv.ParseInt(raw, 10, 64)
		if err != nil || perr != nil {
			return LogPage{}, notOurCursor()
		}
		arg.AfterCreatedAt, arg.AfterID = &t, &id
	}
	rows, err := s.q.ListUserEvents(ctx, arg)
	if err != nil {
		return LogPage{}, fmt.Errorf("list events: %w", err)
	}
	rows, more, total, err := pageRows(rows, first, after,
		func() (int64, error) {
			return s.q.CountUserEvents(ctx, db.CountUserEventsParams{UserID: p.UserID, Actions: logActionNames})
		})
	if err != nil {
		return LogPage{}, fmt.Errorf("count events: %w", err)
	}
	page := LogPage{TotalCount: int(total), HasNextPage: more}
	page.Entries = make([]LogEntry, len(rows))
	for i, r := range rows {
		page.Entries[i] = LogEntry{
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
