package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/alternatefutures/patd/db"
)

// Delivery states (webhook_deliveries.state).
const (
	statePending   = "pending"
	stateDelivered = "delivered"
	stateDead      = "dead"
)

const (
	// leaseTTL outlives one delivery (HTTP timeout) with room to spare; the
	// lease is renewed before each. A sender that died holds it this long.
	leaseExtra = 20 * time.Second
	// leaseWait is how long a job waits in process for another sender of
	// the same token to finish before snoozing: that one usually sends this
	// job's event too, within milliseconds.
	leaseWait = 2 * time.Second
	// drainBatch and drainBudget bound one job's work, so that JobTimeout is
	// never reached by a healthy endpoint.
	drainBatch  = 50
	drainBudget = 30 * time.Second
)

// deliver sends the event of args, after whatever earlier events of the
// same token are still pending for the endpoint. It returns nil once the
// event is delivered or dead, and otherwise snoozes the job until the next
// attempt is due (a snooze costs no River attempt: retries and dead letters
// are counted in webhook_deliveries, per event).
func (w *Webhooks) deliver(ctx context.Context, args deliverArgs, holder string) error {
	got, err := w.lease(ctx, args, holder)
	if err != nil || !got {
		if ctx.Err() != nil {
			return river.JobSnooze(0)
		}
		if err != nil {
			return err
		}
		return river.JobSnooze(250 * time.Millisecond)
	}
	wait, done, derr := w.drain(ctx, args, holder)
	// The lease goes even if this job was cancelled: the next sender must not
	// wait for it to run out.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := w.q.ReleaseWebhookLease(rctx, db.ReleaseWebhookLeaseParams{Endpoint: args.Endpoint, TokenID: args.TokenID, Holder: holder}); err != nil {
		w.log.Warn("release webhook lease; it runs out by itself", "error", err)
	}
	if derr != nil {
		if ctx.Err() != nil {
			return river.JobSnooze(0) // shutting down: whoever runs next sends it
		}
		return derr
	}
	if done {
		return nil
	}
	d, err := w.q.GetWebhookDelivery(rctx, db.GetWebhookDeliveryParams{EventID: args.EventID, Endpoint: args.Endpoint})
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && d.State != statePending) {
		return nil
	}
	if err != nil {
		return err
	}
	return river.JobSnooze(max(wait, 0))
}

// lease takes the (endpoint, token) lease, waiting up to leaseWait for
// another sender to let go of it.
func (w *Webhooks) lease(ctx context.Context, args deliverArgs, holder string) (bool, error) {
	deadline := time.Now().Add(leaseWait)
	for {
		ok, err := w.renew(ctx, args, holder)
		if err != nil || ok || time.Now().After(deadline) {
			return ok, err
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (w *Webhooks) renew(ctx context.Context, args deliverArgs, holder string) (bool, error) {
	now := time.Now()
	n, err := w.q.AcquireWebhookLease(ctx, db.AcquireWebhookLeaseParams{
		Endpoint: args.Endpoint, TokenID: args.TokenID, Holder: holder,
		LeasedUntil: now.Add(w.cfg.HTTPTimeout + leaseExtra), Now: now,
	})
	return n == 1, err
}

// drain sends the token's pending events to the endpoint in order, holding
// the lease, until one fails or is not due yet. It returns how long until
// the first one left is due (0: none left, or the budget ran out), and done
// when the job's own event was delivered or dead-lettered on the way.
func (w *Webhooks) drain(ctx context.Context, args deliverArgs, holder string) (wait time.Duration, done bool, err error) {
	start := time.Now()
	leased := start
	for time.Since(start) < drainBudget {
		rows, err := w.q.PendingWebhookDeliveries(ctx, db.PendingWebhookDeliveriesParams{
			Endpoint: args.Endpoint, TokenID: args.TokenID, MaxRows: drainBatch,
		})
		if err != nil || len(rows) == 0 {
			return 0, false, err
		}
		for _, r := range rows {
			now := time.Now()
			if r.NextAttemptAt.After(now) {
				return r.NextAttemptAt.Sub(now), done, nil // waiting for its retry: the rest waits too
			}
			// The lease outlives one send by leaseExtra: renew it only once
			// a part of that is used up.
			if now.Sub(leased) > leaseExtra/2 {
				if ok, err := w.renew(ctx, args, holder); err != nil || !ok {
					if err == nil {
						err = errors.New("webhook lease lost")
					}
					return 0, done, err
				}
				leased = now
			}
			sendErr := w.send(ctx, args.Endpoint, r.EventID, r.Payload)
			if ctx.Err() != nil {
				return 0, done, ctx.Err() // cut off, not failed: no attempt counted
			}
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			retryIn, err := w.record(wctx, args.Endpoint, r, sendErr)
			cancel()
			if err != nil {
				return 0, done, err
			}
			if retryIn > 0 {
				return retryIn, done, nil
			}
			done = done || r.EventID == args.EventID
			if time.Since(start) >= drainBudget {
				break
			}
		}
	}
	return 0, done, nil
}

// record stores the outcome of one attempt; for a failure that will be
// tried again it returns the wait before that.
func (w *Webhooks) record(ctx context.Context, endpoint string, r db.PendingWebhookDeliveriesRow, sendErr error) (time.Duration, error) {
	now := time.Now()
	if sendErr == nil {
		w.metrics.attempt(stateDelivered)
		w.metrics.latency.Observe(now.Sub(r.CreatedAt).Seconds())
		return 0, w.q.MarkWebhookDelivered(ctx, db.MarkWebhookDeliveredParams{Now: now, EventID: r.EventID, Endpoint: endpoint})
	}
	failed := int(r.Attempts) + 1
	dead := failed > len(w.cfg.RetrySchedule)
	// The one place a failure leaves for the log and last_error: neither
	// may carry more of the URL than its origin.
	msg := withoutURL(sendErr, endpoint).Error()
	if len(msg) > 500 {
		// Cut on a character: PostgreSQL refuses text that is not UTF-8,
		// and the attempt would go unrecorded.
		msg = strings.ToValidUTF8(msg[:500], "")
	}
	var wait time.Duration
	if dead {
		w.metrics.attempt(stateDead)
		w.log.Warn("webhook delivery dead-lettered: attempts used up", "event_id", r.EventID, "type", r.Type,
			"endpoint", origin(endpoint), "attempts", failed, "error", msg)
	} else {
		wait = w.cfg.RetrySchedule[failed-1]
		w.metrics.attempt("failed")
	}
	return wait, w.q.MarkWebhookFailed(ctx, db.MarkWebhookFailedParams{
		LastError: msg, NextAttemptAt: now.Add(wait), Dead: dead, EventID: r.EventID, Endpoint: endpoint,
	})
}

// send POSTs one event, signed; only a 2xx answer is a delivery.
func (w *Webhooks) send(ctx context.Context, endpoint, id string, body []byte) error {
	ts := time.Now().Unix()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "patd-webhooks")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", Sign(w.cfg.Key, id, ts, body))
	resp, err := w.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("endpoint answered %d", resp.StatusCode)
	}
	return nil
}

// origin returns scheme://host[:port] of a webhook URL: all of it that may
// be logged or stored with an error. A receiver's URL may carry its secret
// (a token in the query or the path, or user:password), and the
// configuration is never echoed for that reason; the deliveries must not
// echo it either. Something that does not parse gives a placeholder, never
// the text itself.
func origin(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "(unparsable URL)"
	}
	return u.Scheme + "://" + u.Host
}

// withoutURL returns err, from sending to endpoint, with the URL of its
// *url.Error (net/http's errors read `Post "<URL>": <cause>`) cut to the
// origin: the operation and the cause are kept, and errors.Is and As still
// see the cause (text wrapped around the *url.Error goes with its URL;
// net/http returns it unwrapped). net/http masks only the password: the user
// name, the path and the query would otherwise end up in last_error.
func withoutURL(err error, endpoint string) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	return &url.Error{Op: ue.Op, URL: origin(endpoint), Err: ue.Err}
}
