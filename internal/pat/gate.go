package pat

import (
	"context"
	"sync"
)

// userGate lets one write transaction per user at a time, on this replica,
// take a database connection. Writes to one user's tokens are serialised by
// the user's advisory lock anyway; without the gate, each write waiting for
// that lock would hold a pool connection while it waits, and one user firing
// many writes at once would take the whole pool from everyone else. Waiting
// here costs no connection.
type userGate struct {
	mu    sync.Mutex
	users map[string]*gateSlot
}

type gateSlot struct {
	ch      chan struct{} // holds a value while a write is in
	waiters int           // writers in or waiting; the slot goes at 0
}

func newUserGate() *userGate { return &userGate{users: map[string]*gateSlot{}} }

// enter waits until no other write of userID is in, or ctx is done. The
// caller calls the returned leave when its transaction has ended.
func (g *userGate) enter(ctx context.Context, userID string) (leave func(), err error) {
	g.mu.Lock()
	slot := g.users[userID]
	if slot == nil {
		slot = &gateSlot{ch: make(chan struct{}, 1)}
		g.users[userID] = slot
	}
	slot.waiters++
	g.mu.Unlock()
	done := func() {
		g.mu.Lock()
		if slot.waiters--; slot.waiters == 0 {
			delete(g.users, userID)
		}
		g.mu.Unlock()
	}
	select {
	case slot.ch <- struct{}{}:
		return func() { <-slot.ch; done() }, nil
	case <-ctx.Done():
		done()
		return nil, ctx.Err()
	}
}
