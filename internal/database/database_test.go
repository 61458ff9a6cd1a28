package database_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/alternatefutures/patd/internal/database"
	"github.com/alternatefutures/patd/internal/pattest"
)

// Without pool_max_conns the pool has at least 8 connections and 4 per CPU;
// pool_max_conns, when given, is taken as it is.
func TestPoolSize(t *testing.T) {
	url := pattest.Database(t)
	ctx := context.Background()
	pool, err := database.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := max(int32(8), int32(4*runtime.GOMAXPROCS(0)))
	if got := pool.Config().MaxConns; got != want {
		t.Errorf("default pool size %d, want %d", got, want)
	}
	pool.Close()

	pool, err = database.Open(ctx, url+"&pool_max_conns=3", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if got := pool.Config().MaxConns; got != 3 {
		t.Errorf("pool_max_conns=3 gave %d connections", got)
	}
}
