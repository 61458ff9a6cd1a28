package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// report prints the table, the targets and the notes.
func (b *bench) report(took time.Duration) {
	w := b.out
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(w, "\npatd-bench: %d CPUs shared, unpinned, by patd, the limit (cmd/benchlimit), the load generator, PostgreSQL and Redis;\n", runtime.NumCPU())
	fmt.Fprintf(w, "each HTTP server gets every CPU (GOMAXPROCS=%d). %s rows in the token table. Load average at the end: %s.\n",
		runtime.NumCPU(), thousands(b.opt.rows), strings.Join(strings.Fields(string(load))[:3], " "))
	fmt.Fprintf(w, "Runs of %s after %s of warm-up; rows compared with another: %d runs each, alternating. Latency in ms.\n\n", b.opt.duration, b.opt.warmup, b.opt.rounds)
	fmt.Fprintf(w, "%-6s %-44s %5s %9s %7s %7s %7s %5s %7s %6s %6s %5s  %s\n",
		"server", "load", "conns", "req/s", "p50", "p99", "p99.9", "bad", "lookups", "×rps", "×p99", "RSS", "note")
	for _, r := range b.rows {
		lookups, ratio, p99 := "-", "-", "-"
		if r.lookups >= 0 {
			lookups = thousands(int(r.lookups))
		}
		if r.vs != nil && r.vs.res.RPS() > 0 {
			ratio = fmt.Sprintf("%.2f", r.res.RPS()/r.vs.res.RPS())
			p99 = fmt.Sprintf("%.2f", float64(r.res.Quantile(99))/float64(r.vs.res.Quantile(99)))
		}
		rss := "-"
		if r.served != nil {
			rss = fmt.Sprintf("%.0f", float64(r.hwm)/1024)
		}
		fmt.Fprintf(w, "%-6s %-44s %5d %9s %7s %7s %7s %5d %7s %6s %6s %5s  %s\n",
			r.server, r.name, r.conns, thousands(int(r.res.RPS())),
			ms(r.res.Quantile(50)), ms(r.res.Quantile(99)), ms(r.res.Quantile(99.9)),
			r.res.NotOK(), lookups, ratio, p99, rss, r.note)
	}
	fmt.Fprintln(w, "\nbad: answers other than the load's expected status (200 for tokens in the table, 401 for malformed and legacy-shaped ones;")
	fmt.Fprintln(w, "GraphQL: 200 without errors) plus requests without an answer. lookups: scans of the token_hash index PostgreSQL counted.")
	fmt.Fprintln(w, "×rps, ×p99: patd's figure over the limit's under the same load (GraphQL and hot-set rows: over the limit's cache-hit row).")
	fmt.Fprintln(w, "RSS: peak RSS (VmHWM, MiB) of the process that served the row, so far. pg rows: PostgreSQL alone, loaded by the bench over pgx.")

	fmt.Fprintln(w, "\nTargets:")
	for _, t := range b.targets() {
		fmt.Fprintln(w, "  "+t)
	}
	fmt.Fprintln(w, "\nNotes:")
	for _, r := range b.rows {
		if r.res.FirstError != nil {
			fmt.Fprintf(w, "  %s, %s, %d conns: %d transport errors, the first: %v\n", r.server, r.name, r.conns, r.res.Errors, r.res.FirstError)
		}
	}
	for _, n := range b.notes {
		fmt.Fprintln(w, "  "+n)
	}
	if b.main != nil {
		lines, access := logLines(b.main.logPath)
		var served int64
		for _, r := range b.rows {
			if r.served == b.main {
				served += r.res.Requests
			}
		}
		fmt.Fprintf(w, "  main patd: peak RSS (VmHWM) %.1f MiB; it logged %s lines, %s of them access-log lines, for %s measured requests (and the warm-ups)\n",
			float64(b.main.hwm)/1024, thousands(int(lines)), thousands(int(access)), thousands(int(served)))
	}
	for _, p := range b.others {
		fmt.Fprintf(w, "  %s: peak RSS %.1f MiB\n", p.name, float64(p.hwm)/1024)
	}
	if b.limit != nil {
		fmt.Fprintf(w, "  limit: peak RSS %.1f MiB\n", float64(b.limit.hwm)/1024)
	}
	fmt.Fprintf(w, "  the whole bench took %.0f s\n", took.Seconds())
}

// targets checks issue 10's targets against this run.
func (b *bench) targets() []string {
	var out []string
	check := func(ok bool, format string, args ...any) {
		verdict := "met   "
		if !ok {
			verdict = "MISSED"
		}
		out = append(out, verdict+" "+fmt.Sprintf(format, args...))
	}
	for _, r := range b.hits {
		rps := r.res.RPS() / r.vs.res.RPS()
		p99 := float64(r.res.Quantile(99)) / float64(r.vs.res.Quantile(99))
		check(rps >= 0.85, "cache hit at %d conns: %.2f of the limit's req/s (target ≥ 0.85)", r.conns, rps)
		check(p99 <= 1.2, "cache hit at %d conns: p99 %.2f× the limit's (target ≤ 1.2×)", r.conns, p99)
		check(r.res.NotOK() == 0, "cache hit at %d conns: %d non-2xx (target 0)", r.conns, r.res.NotOK())
	}
	for _, t := range []struct {
		name string
		r    *row
	}{{"malformed", b.malformed}, {"random legacy", b.legacy}} {
		if r := t.r; r != nil {
			rps := r.res.RPS() / r.vs.res.RPS()
			check(rps >= 0.9, "%s: %.2f of the limit's req/s (target ≥ 0.9)", t.name, rps)
			check(r.lookups == 0, "%s: %d database lookups (target 0)", t.name, r.lookups)
		}
	}
	if r := b.miss; r != nil {
		check(r.res.Quantile(99) < 5*time.Millisecond, "miss at 16 conns: p99 %s ms (target < 5 ms)", ms(r.res.Quantile(99)))
	}
	small, large, covering := b.small, b.large, b.covering
	if small != nil && large != nil {
		out = append(out, fmt.Sprintf("       miss with the cache off: 1,000 rows %.0f req/s p99 %s ms; %s rows %.0f req/s p99 %s ms (%.2f× the req/s, %.2f× the p99)",
			small.res.RPS(), ms(small.res.Quantile(99)), thousands(b.opt.rows), large.res.RPS(), ms(large.res.Quantile(99)),
			large.res.RPS()/small.res.RPS(), float64(large.res.Quantile(99))/float64(small.res.Quantile(99))))
	}
	if large != nil && covering != nil {
		out = append(out, fmt.Sprintf("       covering index at %s rows: %.2f× the req/s, %.2f× the p99 of the unique index alone",
			thousands(b.opt.rows), covering.res.RPS()/large.res.RPS(), float64(covering.res.Quantile(99))/float64(large.res.Quantile(99))))
	}
	if r := b.list; r != nil {
		check(r.res.Quantile(99) < 10*time.Millisecond && r.res.NotOK() == 0, "GraphQL list of 100 at 16 conns: p99 %s ms, %d bad (target < 10 ms)", ms(r.res.Quantile(99)), r.res.NotOK())
		if f := b.floor; f != nil {
			out = append(out, fmt.Sprintf("       its statement on PostgreSQL alone (16 callers, a pool of patd's size, alternating): %.0f lists/s, p99 %s ms; patd over it: %.2f× the req/s, %.2f× the p99",
				f.res.RPS(), ms(f.res.Quantile(99)), r.res.RPS()/f.res.RPS(), float64(r.res.Quantile(99))/float64(f.res.Quantile(99))))
		}
	}
	if r := b.create; r != nil {
		check(r.res.NotOK() == 0, "GraphQL create: %d bad answers (target 0)", r.res.NotOK())
	}
	if b.main != nil {
		check(b.main.hwm > 0 && b.main.hwm < 64*1024, "main patd's peak RSS %.1f MiB (target < 64 MiB)", float64(b.main.hwm)/1024)
	}
	return out
}
