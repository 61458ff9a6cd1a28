// Package webhooks delivers patd's lifecycle events (token.created,
// token.rotated, token.revoked, token.expiring) to the configured endpoints,
// signed per the Standard Webhooks specification.
//
// The outbox: pat writes each event in the transaction of its change; Write
// stores it (webhook_events), one delivery row per endpoint
// (webhook_deliveries), and one River job per delivery (InsertManyTx in the
// same transaction). River, on the same PostgreSQL, shares the jobs among
// every replica and survives restarts; a job that was running when its
// replica died is picked up again (at least once: the receiver dedupes by
// webhook-id, which never changes).
//
// Order: the events of one token reach an endpoint in the order of the
// changes. An event's seq comes from a per-token row locked in the change's
// transaction, so it follows commit order; a sender holds a lease on
// (endpoint, token) and sends that token's pending events in seq order,
// stopping at the first that fails. A later event's job finding an earlier
// one pending sends it first or, when that one is waiting for its retry,
// waits with it (snoozes). So River jobs do not need to run in order:
// whichever runs first sends everything up to its own event.
//
// Retries follow RetrySchedule (by default the Standard Webhooks reference
// schedule, about a day in all); after the last failure the delivery is
// dead (the dead letter: state dead, patd_webhook_deliveries{state="dead"}),
// and the token's later events go on.
package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/alternatefutures/patd/db"
	"github.com/alternatefutures/patd/internal/date"
	"github.com/alternatefutures/patd/internal/pat"
)

// DefaultRetrySchedule is the wait before each retry after a failed attempt
// (the Standard Webhooks reference schedule): 8 attempts over about 28 hours.
var DefaultRetrySchedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
}

// Config is what the webhooks need to know.
type Config struct {
	// URLs are the endpoints every event goes to.
	URLs []string
	// Key is the HMAC key (the decoded WEBHOOK_SECRET).
	Key []byte
	// RetrySchedule is the wait before each retry; nil: DefaultRetrySchedule.
	RetrySchedule []time.Duration
	// Workers is how many deliveries one replica makes at once (default 20).
	Workers int
	// HTTPTimeout bounds one delivery (default 10 s).
	HTTPTimeout time.Duration
	// PeriodicEvery is how often token.expiring notices are looked for and
	// old events pruned (default 10 minutes).
	PeriodicEvery time.Duration
	// Retention is how long delivered and dead events are kept (default 7 days).
	Retention time.Duration
}

// Deps are the webhooks' collaborators.
type Deps struct {
	// Expiring sends the token.expiring events that are due (pat.Maintenance.NotifyExpiring).
	Expiring func(ctx context.Context, now time.Time) (int, error)
	// Registerer receives the delivery metrics; may be nil.
	Registerer prometheus.Registerer
	Log        *slog.Logger
}

// queue is River's queue for patd's jobs.
const queue = "patd"

// Webhooks is the outbox writer and, once started, the sender.
type Webhooks struct {
	cfg      Config
	q        *db.Queries
	river    *river.Client[pgx.Tx]
	http     *http.Client
	metrics  *metrics
	expiring func(ctx context.Context, now time.Time) (int, error)
	log      *slog.Logger
}

// New builds the outbox and its River client; Start begins sending.
func New(pool *pgxpool.Pool, cfg Config, d Deps) (*Webhooks, error) {
	if len(cfg.URLs) == 0 || len(cfg.Key) == 0 {
		return nil, errors.New("webhooks: URLs and a key are required")
	}
	if cfg.RetrySchedule == nil {
		cfg.RetrySchedule = DefaultRetrySchedule
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 20
	}
	if cfg.HTTPTimeout <= 0 {
		cfg.HTTPTimeout = 10 * time.Second
	}
	if cfg.PeriodicEvery <= 0 {
		cfg.PeriodicEvery = 10 * time.Minute
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 7 * 24 * time.Hour
	}
	w := &Webhooks{
		cfg: cfg,
		q:   db.New(pool),
		http: &http.Client{
			Timeout: cfg.HTTPTimeout,
			// A redirect is not a delivery: the endpoint is what was configured.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		expiring: d.Expiring,
		log:      d.Log,
	}
	w.metrics = newMetrics(d.Registerer, w.q)

	workers := river.NewWorkers()
	river.AddWorker(workers, &deliverWorker{w: w})
	river.AddWorker(workers, &periodicWorker{w: w})
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Queues:  map[string]river.QueueConfig{queue: {MaxWorkers: cfg.Workers}},
		Workers: workers,
		PeriodicJobs: []*river.PeriodicJob{river.NewPeriodicJob(
			river.PeriodicInterval(cfg.PeriodicEvery),
			func() (river.JobArgs, *river.InsertOpts) { return periodicArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true},
		)},
		// A job new in the outbox is fetched at once (River listens for
		// inserts); the cooldown only spaces fetches under load.
		FetchCooldown: 20 * time.Millisecond,
		// One delivery job sends at most drainBudget worth of events; a job
		// still running after JobTimeout is cancelled, and one whose replica
		// died is run again after RescueStuckJobsAfter.
		JobTimeout:           2 * time.Minute,
		RescueStuckJobsAfter: 5 * time.Minute,
		Logger:               d.Log,
	})
	if err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	w.river = client
	return w, nil
}

// Start begins delivering, in the background, until Stop.
func (w *Webhooks) Start(ctx context.Context) error { return w.river.Start(ctx) }

// Stop lets running deliveries finish for up to grace, then cancels them
// (a cancelled delivery is tried again, by whichever replica runs next).
func (w *Webhooks) Stop(ctx context.Context, grace time.Duration) {
	sctx, cancel := context.WithTimeout(ctx, grace)
	defer cancel()
	if err := w.river.Stop(sctx); err == nil {
		return
	}
	cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer ccancel()
	if err := w.river.StopAndCancel(cctx); err != nil {
		w.log.Warn("webhook deliveries still running at shutdown were abandoned; another replica will send them", "error", err)
	}
}

// payload is the body every endpoint receives (Standard Webhooks shape).
type payload struct {
	Type      string         `json:"type"`
	Timestamp string         `json:"timestamp"`
	Data      map[string]any `json:"data"`
}

// Write stores events, their deliveries and the delivery jobs in tx: the
// change's own transaction. It implements pat.Outbox.
func (w *Webhooks) Write(ctx context.Context, tx pgx.Tx, events []pat.Event) error {
	if len(events) == 0 {
		return nil
	}
	q := db.New(tx)
	next, err := reserveSeqs(ctx, q, events)
	if err != nil {
		return err
	}
	n := len(events)
	arg := db.InsertWebhookEventsParams{
		CreatedAt: time.Now(),
		Ids:       make([]string, n), TokenIds: make([]string, n), Seqs: make([]int32, n),
		Types: make([]string, n), Payloads: make([][]byte, n),
	}
	final := map[string]bool{} // tokens whose last event here ends them
	for i, e := range events {
		id, err := uuid.NewV7()
		if err != nil {
			return err
		}
		body, err := json.Marshal(payload{Type: string(e.Type), Timestamp: date.Format(e.Time), Data: e.Data})
		if err != nil {
			return err
		}
		arg.Ids[i] = "msg_" + strings.ReplaceAll(id.String(), "-", "")
		arg.TokenIds[i], arg.Seqs[i], arg.Types[i], arg.Payloads[i] = e.TokenID, next[e.TokenID], string(e.Type), body
		next[e.TokenID]++
		final[e.TokenID] = e.Type == pat.EventRevoked
	}
	if err := q.InsertWebhookEvents(ctx, arg); err != nil {
		return fmt.Errorf("webhook outbox: %w", err)
	}
	if err := q.InsertWebhookDeliveries(ctx, db.InsertWebhookDeliveriesParams{Endpoints: w.cfg.URLs, EventIds: arg.Ids}); err != nil {
		return fmt.Errorf("webhook outbox: %w", err)
	}
	var ended []string
	for id, end := range final {
		if end {
			ended = append(ended, id)
		}
	}
	if len(ended) > 0 {
		// A revoked token has no more events: its counter can go.
		if err := q.ForgetTokenEventSeqs(ctx, ended); err != nil {
			return fmt.Errorf("webhook outbox: %w", err)
		}
	}
	return w.enqueue(ctx, tx, arg.Ids, arg.TokenIds)
}

// reserveSeqs takes, for each token of events, as many numbers of its event
// sequence as it has events here, and returns the first of each.
func reserveSeqs(ctx context.Context, q *db.Queries, events []pat.Event) (map[string]int32, error) {
	counts := map[string]int32{}
	for _, e := range events {
		counts[e.TokenID]++
	}
	tokens := make([]string, 0, len(counts))
	for id := range counts {
		tokens = append(tokens, id)
	}
	slices.Sort(tokens) // one lock order for every transaction: no deadlocks
	ns := make([]int32, len(tokens))
	for i, id := range tokens {
		ns[i] = counts[id]
	}
	rows, err := q.NextTokenEventSeqs(ctx, db.NextTokenEventSeqsParams{TokenIds: tokens, Counts: ns})
	if err != nil {
		return nil, fmt.Errorf("webhook outbox: %w", err)
	}
	next := make(map[string]int32, len(rows))
	for _, r := range rows {
		next[r.TokenID] = r.Seq - counts[r.TokenID] + 1
	}
	return next, nil
}

// enqueue adds, in tx, one River job per event and endpoint.
func (w *Webhooks) enqueue(ctx context.Context, tx pgx.Tx, eventIDs, tokenIDs []string) error {
	jobs := make([]river.InsertManyParams, 0, len(eventIDs)*len(w.cfg.URLs))
	for i := range eventIDs {
		for _, url := range w.cfg.URLs {
			jobs = append(jobs, river.InsertManyParams{Args: deliverArgs{EventID: eventIDs[i], Endpoint: url, TokenID: tokenIDs[i]}})
		}
	}
	if _, err := w.river.InsertManyTx(ctx, tx, jobs); err != nil {
		return fmt.Errorf("webhook outbox: %w", err)
	}
	return nil
}

// deliverArgs is one River job: deliver one event to one endpoint (and,
// first, that token's earlier events still pending there).
type deliverArgs struct {
	EventID  string `json:"event_id"`
	Endpoint string `json:"endpoint"`
	TokenID  string `json:"token_id"`
}

func (deliverArgs) Kind() string                 { return "patd_webhook_delivery" }
func (deliverArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: queue} }

type deliverWorker struct {
	river.WorkerDefaults[deliverArgs]
	w *Webhooks
}

func (k *deliverWorker) Work(ctx context.Context, job *river.Job[deliverArgs]) error {
	return k.w.deliver(ctx, job.Args, fmt.Sprint(job.ID))
}

// periodicArgs is the periodic job: token.expiring notices and pruning.
type periodicArgs struct{}

func (periodicArgs) Kind() string { return "patd_webhook_periodic" }
func (periodicArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: queue, MaxAttempts: 3}
}

type periodicWorker struct {
	river.WorkerDefaults[periodicArgs]
	w *Webhooks
}

func (k *periodicWorker) Work(ctx context.Context, _ *river.Job[periodicArgs]) error {
	return k.w.periodic(ctx, time.Now())
}

// periodic sends the token.expiring notices that are due and prunes events
// every endpoint is done with.
func (w *Webhooks) periodic(ctx context.Context, now time.Time) error {
	if w.expiring != nil {
		if _, err := w.expiring(ctx, now); err != nil {
			return fmt.Errorf("token.expiring: %w", err)
		}
	}
	if _, err := w.q.PruneWebhookEvents(ctx, now.Add(-w.cfg.Retention)); err != nil {
		return fmt.Errorf("prune webhook events: %w", err)
	}
	return nil
}

// RunPeriodic runs the periodic work once, now (tests and operators).
func (w *Webhooks) RunPeriodic(ctx context.Context, now time.Time) error { return w.periodic(ctx, now) }
