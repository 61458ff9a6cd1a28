package httpapi

import "net/http"

// Routes is a route table whose answers to requests it has no route for are
// JSON, as every answer of patd is: 404 NOT_FOUND, or 405 METHOD_NOT_ALLOWED
// with Allow when the path has routes for other methods.
//
// A request is matched once, by mux, whose "/" route (the least specific
// there is) takes what no other route does. Only such a request is matched
// again, by routes, which has the same routes without "/": what net/http
// answers there (404, 405 with Allow) is what patd answers, in JSON.
type Routes struct {
	mux    *http.ServeMux // the routes and "/": what serves
	routes *http.ServeMux // the routes alone
}

// NewRoutes returns a route table with no routes yet.
func NewRoutes() *Routes {
	rt := &Routes{mux: http.NewServeMux(), routes: http.NewServeMux()}
	rt.mux.HandleFunc("/", rt.unrouted)
	return rt
}

// Handle serves requests that match pattern (as http.ServeMux.Handle) with
// h. The pattern "/" is taken.
func (rt *Routes) Handle(pattern string, h http.Handler) {
	rt.mux.Handle(pattern, h)
	rt.routes.Handle(pattern, h)
}

// Mux is the routes without the JSON answers, for looking a route up (the
// tracer names spans by route). Register routes through Handle only.
func (rt *Routes) Mux() *http.ServeMux { return rt.routes }

// ServeHTTP serves r by its route, or answers that it has none.
func (rt *Routes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "" {
		// No pattern, not even "/", matches an empty path (a CONNECT
		// request names a host, not a path).
		rt.unrouted(w, r)
		return
	}
	rt.mux.ServeHTTP(w, r)
}

// unrouted answers a request no route takes as net/http would, in JSON. (A
// path that needs cleaning, or a missing trailing slash, is redirected by mux
// before it would fall to "/": what comes here is a 404 or a 405.)
func (rt *Routes) unrouted(w http.ResponseWriter, r *http.Request) {
	// routes also sets r.Pattern back to "": the access log shows no route.
	rec := &errorRecorder{header: http.Header{}}
	rt.routes.ServeHTTP(rec, r)
	if rec.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", rec.header.Get("Allow"))
		writeError(w, http.StatusMethodNotAllowed, codeMethodNotAllowed, "method not allowed on this route")
		return
	}
	NotFound(w, r)
}

// errorRecorder keeps the status and headers routes answers for a request no
// route takes; its body is dropped.
type errorRecorder struct {
	header http.Header
	status int
}

func (e *errorRecorder) Header() http.Header { return e.header }
func (e *errorRecorder) WriteHeader(status int) {
	if e.status == 0 {
		e.status = status
	}
}
func (e *errorRecorder) Write(b []byte) (int, error) { return len(b), nil }
