// Package loadgen is the HTTP load generator of `make bench`: a fixed number of
// keep-alive connections on loopback, each sending one request, reading the
// whole answer and sending the next (a closed loop, like wrk), with every
// latency recorded in an HDR histogram.
//
// It speaks HTTP/1.1 by hand rather than through net/http's client: the
// machine's two cores are shared by the server under test and the load, and
// net/http's client (a transport, two goroutines and channels per connection)
// costs about as much CPU per request as the server it measures. A cheap client
// leaves the server most of the machine, so that the ratio of two servers'
// throughputs is theirs and not the client's.
package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Request writes the next request of connection conn (0-based) into dst
// (empty, reused between requests) and returns it. Each connection calls it
// from its own goroutine: per-connection state needs no lock.
type Request func(conn int, dst []byte) []byte

// Check reports whether an answer counts as a success. body is nil unless
// Config.ReadBody is set.
type Check func(status int, body []byte) bool

// Config describes one run.
type Config struct {
	Addr        string // host:port
	Connections int
	Duration    time.Duration
	// Warmup runs the same load first, unrecorded: connections opened,
	// caches and pools filled, the server's goroutines grown.
	Warmup  time.Duration
	Request Request
	// Check decides successes; nil: any 2xx.
	Check Check
	// ReadBody keeps each body for Check (GraphQL answers errors with 200).
	ReadBody bool
}

// Result is what one run measured.
type Result struct {
	Requests int64
	Elapsed  time.Duration
	// Failed counts answers Check refused; Errors, requests that got no
	// answer (connection refused, reset, unreadable answer).
	Failed  int64
	Errors  int64
	Status  map[int]int64
	Latency *hdrhistogram.Histogram // nanoseconds
	// FirstError is the first transport error, for the report.
	FirstError error
}

// RPS is requests per second.
func (r *Result) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// Quantile is the latency at q (0..100) percent.
func (r *Result) Quantile(q float64) time.Duration {
	return time.Duration(r.Latency.ValueAtQuantile(q))
}

// NotOK counts answers that were not successes, and requests with none.
func (r *Result) NotOK() int64 { return r.Failed + r.Errors }

// Merge adds o to r: two runs of the same load, as if one.
func (r *Result) Merge(o *Result) {
	r.Requests += o.Requests
	r.Elapsed += o.Elapsed
	r.Failed += o.Failed
	r.Errors += o.Errors
	for s, n := range o.Status {
		r.Status[s] += n
	}
	r.Latency.Merge(o.Latency)
	if r.FirstError == nil {
		r.FirstError = o.FirstError
	}
}

// newHistogram covers 1 µs to 60 s with three significant digits.
func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1_000, 60_000_000_000, 3)
}

// NewResult returns an empty Result, to Merge runs into.
func NewResult() *Result { return &Result{Status: map[int]int64{}, Latency: newHistogram()} }

// Run sends the load until cfg.Duration has passed (after cfg.Warmup) or ctx
// is done.
func Run(ctx context.Context, cfg Config) *Result {
	if cfg.Check == nil {
		cfg.Check = func(status int, _ []byte) bool { return status >= 200 && status < 300 }
	}
	if cfg.Warmup > 0 {
		run(ctx, cfg, cfg.Warmup)
	}
	return run(ctx, cfg, cfg.Duration)
}

func run(ctx context.Context, cfg Config, d time.Duration) *Result {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return Fan(cfg.Connections, func(id int, res *Result) { worker(ctx, cfg, id, res) })
}

// Fan runs loop(id, res) for ids 0 to n-1 at once, each on its own goroutine
// and with a Result of its own, and returns their sum once every loop has
// returned, its Elapsed the time from their start to then. A loop records
// its calls with Record and Fail, and decides itself when to stop.
func Fan(n int, loop func(id int, res *Result)) *Result {
	results := make([]*Result, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range results {
		results[i] = NewResult()
		wg.Go(func() { loop(i, results[i]) })
	}
	wg.Wait()
	total := NewResult()
	for _, r := range results {
		total.Merge(r)
	}
	total.Elapsed = time.Since(start)
	return total
}

// worker is one connection's loop. Latency runs from the first byte written
// to the last byte of the answer read.
func worker(ctx context.Context, cfg Config, id int, res *Result) {
	var (
		c    *client
		req  []byte
		body []byte
		err  error
	)
	defer func() {
		if c != nil {
			c.conn.Close()
		}
	}()
	for ctx.Err() == nil {
		if c == nil {
			if c, err = dial(ctx, cfg.Addr); err != nil {
				if ended(ctx) {
					break // the run ended during the dial
				}
				res.Fail(err)
				// Do not spin on a server that is gone.
				time.Sleep(10 * time.Millisecond)
				continue
			}
		}
		req = cfg.Request(id, req[:0])
		t0 := time.Now()
		status, keep, b, err := c.roundTrip(req, body[:0], cfg.ReadBody)
		elapsed := time.Since(t0)
		body = b
		if err != nil {
			if !ended(ctx) {
				res.Fail(err)
			}
			c.conn.Close()
			c = nil
			continue
		}
		res.Status[status]++
		res.Record(elapsed, cfg.Check(status, b))
		if !keep {
			c.conn.Close()
			c = nil
		}
	}
}

// ended reports whether the run is over. The dialer's deadline is ctx's, and
// may fire a moment before ctx reports it.
func ended(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// Record counts one call that got an answer, which took elapsed; ok: the
// answer was a success.
func (r *Result) Record(elapsed time.Duration, ok bool) {
	r.Requests++
	_ = r.Latency.RecordValue(int64(elapsed))
	if !ok {
		r.Failed++
	}
}

// Fail counts one call that got no answer, keeping the first such error.
func (r *Result) Fail(err error) {
	r.Errors++
	if r.FirstError == nil {
		r.FirstError = err
	}
}

type client struct {
	conn net.Conn
	br   *bufio.Reader
}

func dial(ctx context.Context, addr string) (*client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &client{conn: conn, br: bufio.NewReaderSize(conn, 16<<10)}, nil
}

var errBadAnswer = errors.New("loadgen: unreadable HTTP answer")

// roundTrip writes req and reads one answer: its status, whether the
// connection may be kept, and its body appended to body when keepBody.
func (c *client) roundTrip(req, body []byte, keepBody bool) (status int, keep bool, _ []byte, _ error) {
	if _, err := c.conn.Write(req); err != nil {
		return 0, false, body, err
	}
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return 0, false, body, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, false, body, errBadAnswer
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, body, errBadAnswer
	}
	keep = true
	length, chunked := -1, false
	for {
		line, err = c.br.ReadSlice('\n')
		if err != nil {
			return 0, false, body, err
		}
		if len(line) <= 2 { // the empty line that ends the header
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, false, body, errBadAnswer
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 {
				return 0, false, body, errBadAnswer
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			keep = !bytes.EqualFold(value, []byte("close"))
		}
	}
	switch {
	case chunked:
		body, err = c.readChunked(body, keepBody)
	case length >= 0:
		body, err = c.read(body, length, keepBody)
	default:
		// Neither: the body runs to the end of the connection.
		return status, false, body, fmt.Errorf("loadgen: answer %d without a length", status)
	}
	return status, keep, body, err
}

// read reads n bytes, appended to body when keep.
func (c *client) read(body []byte, n int, keep bool) ([]byte, error) {
	if !keep {
		_, err := c.br.Discard(n)
		return body, err
	}
	start := len(body)
	body = slices.Grow(body, n)[:start+n]
	_, err := io.ReadFull(c.br, body[start:])
	return body, err
}

func (c *client) readChunked(body []byte, keep bool) ([]byte, error) {
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return body, err
		}
		size, _, _ := bytes.Cut(bytes.TrimSpace(line), []byte(";"))
		n, err := strconv.ParseInt(string(size), 16, 32)
		if err != nil || n < 0 {
			return body, errBadAnswer
		}
		if n == 0 {
			// Trailers, then the empty line.
			for {
				line, err = c.br.ReadSlice('\n')
				if err != nil {
					return body, err
				}
				if len(line) <= 2 {
					return body, nil
				}
			}
		}
		if body, err = c.read(body, int(n), keep); err != nil {
			return body, err
		}
		if _, err := c.br.Discard(2); err != nil { // CRLF after the chunk
			return body, err
		}
	}
}

// Post appends an HTTP/1.1 POST of body to path, with the given header lines
// ("Name: value"), to dst.
func Post(dst []byte, path string, body []byte, headers ...string) []byte {
	dst = append(dst, "POST "...)
	dst = append(dst, path...)
	dst = append(dst, " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"...)
	for _, h := range headers {
		dst = append(dst, h...)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\n\r\n"...)
	return append(dst, body...)
}
