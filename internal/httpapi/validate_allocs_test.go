package httpapi_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/alternatefutures/patd/internal/pattest"
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
	h := r.Server.Handler()
	body := []byte(`{"token":"` + secret + `"}`)
	req := httptest.NewRequest(http.MethodPost, "/validate", nil)
	req.Header.Set("Authorization", "Bearer "+pattest.ServiceSecret)
	req.ContentLength = int64(len(body))
	rd := bytes.NewReader(body)
	rc := io.NopCloser(rd)
	w := &discard{h: http.Header{}}
	serve := func() {
		rd.Reset(body)
		req.Body = rc
		clear(w.h)
		w.status = 0
		h.ServeHTTP(w, req)
		if w.status != http.StatusOK {
			t.Fatalf("status %d", w.status)
		}
	}
	serve() // cached from here on
	if n := testing.AllocsPerRun(1000, serve); n > 4 {
		t.Errorf("a cached validation allocates %v times, want at most 4", n)
	}
}
