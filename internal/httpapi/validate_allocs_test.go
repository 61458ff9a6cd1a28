package httpapi_test

import (
	"net/http"
	"testing"
)

// A cached validation, through every middleware of the route table, makes at
// most four allocations: the request copy that carries its context, the
// request's state (status recorder, request info, id header), the request id
// and the token. It made 20 before issue 10; this keeps it from creeping back.
func TestValidateAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes what escapes")
	}
	// Not parallel: AllocsPerRun counts every goroutine's allocations.
	r, secret := benchReplica(t)
	call := validateCall(r.Server.Handler(), secret)
	serve := func() {
		if status := call(); status != http.StatusOK {
			t.Fatalf("status %d", status)
		}
	}
	serve() // cached from here on
	if n := testing.AllocsPerRun(1000, serve); n > 4 {
		t.Errorf("a cached validation allocates %v times, want at most 4", n)
	}
}
