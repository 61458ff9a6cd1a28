package graphiql_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/alternatefutures/patd/internal/config"
	"github.com/alternatefutures/patd/internal/graphiql"
	"github.com/alternatefutures/patd/internal/pattest"
)

// chromium finds the headless browser. It is not optional: make services
// (scripts/services.sh) installs Debian's chromium where it is missing.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no chromium on PATH: run make services (scripts/services.sh installs Debian's chromium)")
	return ""
}

func devReplica(t *testing.T) *pattest.Replica {
	t.Helper()
	cfg := pattest.Config(t)
	cfg.Env = config.Development
	return pattest.Start(t, cfg)
}

// browser records what the page asks for and what goes wrong in it.
type browser struct {
	mu       sync.Mutex
	requests []string
	problems []string
}

func (b *browser) listen(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.requests = append(b.requests, ev.Request.URL)
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		b.problems = append(b.problems, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber, msg))
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError {
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			b.problems = append(b.problems, "console.error: "+strings.Join(args, " "))
		}
	case *cdplog.EventEntryAdded:
		// Among them: Content-Security-Policy violations, failed loads.
		if ev.Entry.Level == cdplog.EntryLevelError {
			b.problems = append(b.problems, "log: "+ev.Entry.Text+" "+ev.Entry.URL)
		}
	}
}

// runInGraphiQL opens page in a headless Chromium (exe) that can resolve no
// host but loopback, fills GraphiQL's query and headers editors, runs the
// query and returns what the result pane shows, with what the page asked for
// and what went wrong in it.
func runInGraphiQL(t *testing.T, exe, page, query, headers string) (string, *browser) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		// Tests run as root in CI containers, where Chromium's sandbox
		// cannot start; the page is patd's own.
		chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true),
		// Offline: no name resolves but loopback, so anything the page
		// tried to fetch from a CDN would fail (and be seen).
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	// Generous: Chromium starts slowly on a busy two-core machine. It bounds
	// the test, it is not what the test measures.
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelTimeout()

	// chromedp enables the Log, Network and Runtime domains of the tab,
	// whose events these are.
	b := &browser{}
	if err := chromedp.Listen(ctx, b.listen); err != nil {
		t.Fatalf("start Chromium (%s): %v", exe, err)
	}
	err := chromedp.Do(ctx,
		chromedp.Navigate(page),
		chromedp.WaitVisible(chromedp.CSS(`.graphiql-query-editor .CodeMirror`)),
		chromedp.WaitVisible(chromedp.CSS(`.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror`)),
		// GraphiQL's editors are CodeMirror 5 instances, reachable from
		// their elements: fill them as a user who pastes would.
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
			document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(%q);
			document.querySelector('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror').CodeMirror.setValue(%q);
		})()`, query, headers)),
		chromedp.Click(chromedp.CSS(`.graphiql-execute-button`)),
	)
	var result string
	if err == nil {
		// Until the answer is in the result pane; the context bounds it.
		result, err = chromedp.Run(ctx, chromedp.Poll[string](`(() => {
			const v = document.querySelector('.result-window .CodeMirror').CodeMirror.getValue();
			return v.includes('"data"') || v.includes('"errors"') ? v : false;
		})()`, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(0)))
	}
	// Stop the browser, then copy what it reported: no event comes after.
	cancel()
	cancelAlloc()
	b.mu.Lock()
	defer b.mu.Unlock()
	seen := &browser{requests: slices.Clone(b.requests), problems: slices.Clone(b.problems)}
	if err != nil {
		t.Fatalf("GraphiQL in Chromium: %v\nrequests: %v\nproblems: %v", err, seen.requests, seen.problems)
	}
	return result, seen
}

// In development mode GET /graphql is GraphiQL, served whole by patd: a
// headless Chromium that can resolve no host but loopback loads it, runs an
// authenticated query through it and reads the answer in its result pane.
func TestGraphiQLRunsAQueryOffline(t *testing.T) {
	t.Parallel()
	exe := chromium(t)
	r := devReplica(t)
	jwt := r.JWT("user-graphiql")
	r.CreateToken(t, "user-graphiql", "made before GraphiQL", nil)
	headers, _ := json.Marshal(map[string]string{"Authorization": "Bearer " + jwt})
	result, b := runInGraphiQL(t, exe, r.URL+"/graphql", `{ personalAccessTokens { totalCount data { name } } }`, string(headers))

	var answer struct {
		Data struct {
			List struct {
				TotalCount int `json:"totalCount"`
				Data       []struct {
					Name string `json:"name"`
				} `json:"data"`
			} `json:"personalAccessTokens"`
		} `json:"data"`
		Errors []any `json:"errors"`
	}
	if err := json.Unmarshal([]byte(result), &answer); err != nil {
		t.Fatalf("the result pane does not hold JSON (%v): %s", err, result)
	}
	if len(answer.Errors) > 0 || answer.Data.List.TotalCount != 1 || len(answer.Data.List.Data) != 1 ||
		answer.Data.List.Data[0].Name != "made before GraphiQL" {
		t.Errorf("the result pane shows %s", result)
	}
	for _, u := range b.requests {
		if !strings.HasPrefix(u, r.URL+"/") && !strings.HasPrefix(u, "data:") {
			t.Errorf("the page asked for %s: GraphiQL must need nothing but patd", u)
		}
	}
	for _, want := range []string{"/graphiql/vendor/graphiql.min.js", "/graphiql/vendor/react.production.min.js", "/graphiql/patd-graphiql.js"} {
		if !slices.ContainsFunc(b.requests, func(u string) bool { return strings.HasSuffix(u, want) }) {
			t.Errorf("the page never loaded %s: requests %v", want, b.requests)
		}
	}
	if len(b.problems) > 0 {
		t.Errorf("errors in the page (a Content-Security-Policy violation is one): %v", b.problems)
	}
}

// The page and its assets as HTTP answers: a strict Content-Security-Policy
// on the page, revalidation by ETag, JSON for unknown assets, and nothing of
// it outside development mode.
func TestGraphiQLAssets(t *testing.T) {
	t.Parallel()
	r := devReplica(t)
	page := r.Do(http.MethodGet, "/graphql", nil)
	if page.Status != http.StatusOK || !strings.HasPrefix(page.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(page.Body), `src="/graphiql/vendor/graphiql.min.js"`) || strings.Contains(string(page.Body), "cdn") {
		t.Fatalf("GET /graphql: %d %s %.300s", page.Status, page.Header.Get("Content-Type"), page.Body)
	}
	if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("page CSP %q", csp)
	}
	// A GET with a query is still a GraphQL request, not the page.
	if q := r.Do(http.MethodGet, "/graphql?query=%7B__typename%7D", nil); !strings.Contains(string(q.Body), `"__typename":"Query"`) {
		t.Errorf("GET /graphql?query=: %s", q)
	}

	js := r.Do(http.MethodGet, graphiql.Prefix+"vendor/graphiql.min.js", nil)
	if js.Status != http.StatusOK || js.Header.Get("Content-Type") != "text/javascript; charset=utf-8" || len(js.Body) < 100_000 || js.Header.Get("ETag") == "" {
		t.Fatalf("graphiql.min.js: %d %s %d bytes, ETag %q", js.Status, js.Header.Get("Content-Type"), len(js.Body), js.Header.Get("ETag"))
	}
	if again := r.Do(http.MethodGet, graphiql.Prefix+"vendor/graphiql.min.js", nil, "If-None-Match: "+js.Header.Get("ETag")); again.Status != http.StatusNotModified || len(again.Body) != 0 {
		t.Errorf("revalidation: %d, %d bytes", again.Status, len(again.Body))
	}
	css := r.Do(http.MethodGet, graphiql.Prefix+"vendor/graphiql.min.css", nil)
	if css.Status != http.StatusOK || !strings.HasPrefix(css.Header.Get("Content-Type"), "text/css") {
		t.Errorf("graphiql.min.css: %d %s", css.Status, css.Header.Get("Content-Type"))
	}
	for _, p := range []string{"vendor/nope.js", "index.html", "../graphiql.go"} {
		if miss := r.Do(http.MethodGet, graphiql.Prefix+p, nil); miss.Status != http.StatusNotFound || !strings.Contains(string(miss.Body), `"NOT_FOUND"`) {
			t.Errorf("GET %s%s: %s", graphiql.Prefix, p, miss)
		}
	}

	prod := pattest.Start(t, pattest.Config(t))
	if p := prod.Do(http.MethodGet, "/graphql", nil); strings.Contains(string(p.Body), "graphiql") {
		t.Errorf("production serves GraphiQL at GET /graphql: %s", p)
	}
	if a := prod.Do(http.MethodGet, graphiql.Prefix+"vendor/graphiql.min.js", nil); a.Status != http.StatusNotFound {
		t.Errorf("production serves GraphiQL's assets: %d", a.Status)
	}
}
