package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"go.opentelemetry.io/otel/trace"

	"github.com/alternatefutures/patd/internal/graphiql"
	"github.com/alternatefutures/patd/internal/metrics"
	"github.com/alternatefutures/patd/internal/pat"
	"github.com/alternatefutures/patd/internal/requestinfo"
)

// Options configure the GraphQL endpoint.
type Options struct {
	MaxDepth      int
	MaxComplexity int
	// MaxBody bounds a request's body, as the route does (it reads the body
	// first); the multipart transport needs the figure too.
	MaxBody int64
	// Development enables introspection and GraphiQL.
	Development bool
	Metrics     *metrics.Metrics // may be nil
	Log         *slog.Logger
	// TracerProvider, when set, gets a span per operation (tracing.go).
	TracerProvider trace.TracerProvider
}

// NewHandler returns the /graphql endpoint over svc. Requests must already
// carry their authentication outcome (auth.Middleware).
func NewHandler(svc *pat.Service, opts Options) http.Handler {
	cfg := Config{Resolvers: &Resolver{Tokens: svc}}
	priceFields(&cfg.Complexity)
	schema := NewExecutableSchema(cfg)
	queries := newQueryCache()
	// Routers ask for an Apollo federated trace of a subgraph fetch with a
	// header. The tracer intercepts every field of every operation to check
	// for it (a sixth of a 100-token page's time), so only the requests that
	// carry the header go through a server that has it.
	plain := newServer(schema, queries, opts, false)
	traced := newServer(schema, queries, opts, true)
	srv := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if wantsFederatedTrace(r.Header) {
			traced.ServeHTTP(w, r)
			return
		}
		plain.ServeHTTP(w, r)
	})

	api := answerHeaders(logFailuresOnce(opts.Log, srv))
	if !opts.Development {
		return api
	}
	// GraphiQL, served from the binary (its assets: graphiql.Assets).
	ide := graphiql.Page("/graphql")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Query().Get("query") == "" {
			ide.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
}

// newServer is the GraphQL server of NewHandler, with the Apollo federated
// tracer when traced.
func newServer(schema graphql.ExecutableSchema, queries queryCache, opts Options, traced bool) *handler.Server {
	srv := handler.New(schema)
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.POST{})
	// The SDK sends every operation as a GraphQL multipart request. The
	// schema has no Upload, so nothing is ever kept: the whole form is
	// parsed in memory, within the route's body limit.
	srv.AddTransport(transport.MultipartForm{MaxUploadSize: opts.MaxBody, MaxMemory: opts.MaxBody})
	if opts.Development {
		srv.AddTransport(transport.GET{})
		srv.Use(extension.Introspection{})
	} else {
		srv.Use(federationOnlyIntrospection{})
	}
	// Bounds the work of parsing and validating one query (alias floods):
	// a full page of every field costs under 100 tokens.
	srv.SetParserTokenLimit(maxQueryTokens)
	srv.SetQueryCache(queries)
	srv.Use(shapeLimit(opts.MaxDepth))
	srv.Use(extension.FixedComplexityLimit(opts.MaxComplexity))
	srv.Use(checkRepresentations{})
	srv.SetErrorPresenter(errorPresenter(opts.Log, opts.Development))
	// With introspection off, "Did you mean" would reveal the schema; the
	// presenter strips the suggestions of the rules this does not cover.
	srv.SetDisableSuggestion(!opts.Development)
	useRouterExtensions(srv, opts.TracerProvider, traced)
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		resp := next(ctx)
		if resp != nil && graphql.HasOperationContext(ctx) {
			opts.Metrics.GraphQLOperation(operationLabel(graphql.GetOperationContext(ctx)), len(resp.Errors) == 0)
		}
		capErrors(resp)
		return resp
	})
	srv.SetRecoverFunc(func(ctx context.Context, v any) error {
		opts.Log.ErrorContext(ctx, "graphql resolver panicked", "panic", fmt.Sprint(v),
			"request_id", requestinfo.FromContext(ctx).ID)
		return errPanic
	})
	return srv
}

// logFailuresOnce gives each request a budget of internal errors to log (the
// error presenter takes from it) and, when it is done, logs one line counting
// those past the budget.
func logFailuresOnce(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, budget := withLogBudget(r.Context())
		next.ServeHTTP(w, r.WithContext(ctx))
		if n := budget.skipped(); n > 0 {
			log.ErrorContext(ctx, "graphql resolver failures not logged", "count", n,
				"request_id", requestinfo.FromContext(ctx).ID)
		}
	})
}

// answerHeaders sets the headers every GraphQL answer needs: no-store, as
// create and rotate answers carry a token no cache may keep, and a JSON
// Content-Type, which gqlgen leaves out when it answers that no transport
// takes the request (Go would then call the JSON text/plain).
func answerHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(&jsonByDefault{ResponseWriter: w}, r)
	})
}

// jsonByDefault says application/json when the handler said nothing else.
// The transports add their own Content-Type, so it cannot be set up front.
type jsonByDefault struct {
	http.ResponseWriter
	started bool
}

func (j *jsonByDefault) start() {
	if !j.started {
		j.started = true
		if j.Header().Get("Content-Type") == "" {
			j.Header().Set("Content-Type", "application/json")
		}
	}
}

func (j *jsonByDefault) WriteHeader(code int) {
	j.start()
	j.ResponseWriter.WriteHeader(code)
}

func (j *jsonByDefault) Write(b []byte) (int, error) {
	j.start()
	return j.ResponseWriter.Write(b)
}

func (j *jsonByDefault) Unwrap() http.ResponseWriter { return j.ResponseWriter }

// priceFields sets the complexity of the fields that cost more than their
// selection.
func priceFields(c *ComplexityRoot) {
	// List fields cost what they may return, so one query cannot ask for
	// many pages at once.
	// Out-of-range values are refused by the resolver with BAD_USER_INPUT, so
	// they are costed as the nearest valid one.
	// Each list is priced at the page its resolver reads when first is
	// omitted, and at two round trips: the page and, unless the page tells
	// it, the total.
	listCost := func(defaultPage int) func(child int, first *int, _ *string) int {
		return func(child int, first *int, _ *string) int {
			return 2*roundTripCost + child*min(max(pageSize(first, defaultPage), 1), pat.MaxPageSize)
		}
	}
	c.Query.PersonalAccessTokens = listCost(pat.DefaultPageSize)
	c.Query.PersonalAccessTokenEvents = listCost(pat.DefaultLogPageSize)
	c.User.PersonalAccessTokens = listCost(pat.DefaultPageSize)
	// Fields that each cost a database round trip are priced so that aliasing
	// one many times over cannot fan a request out into hundreds of queries.
	c.Query.PersonalAccessToken = func(child int, _ string) int { return roundTripCost + child }
	c.Query.APIKeyRateLimit = func(child int) int { return roundTripCost + child }
	c.Mutation.CreatePersonalAccessToken = func(child int, _ string, _ *time.Time, _ *string) int { return roundTripCost + child }
	c.Mutation.ApproveCliLogin = func(child int, _ string, _ *string, _ *time.Time, _ *string) int { return roundTripCost + child }
	c.Mutation.DeletePersonalAccessToken = func(child int, _ string) int { return roundTripCost + child }
	c.Mutation.RotatePersonalAccessToken = func(child int, _ string, _ *time.Time, _ *int) int {
		return roundTripCost + child
	}
	// Each representation resolves its own selection (a User's token list is
	// a query per representation): cost them all.
	c.Query.__resolve_entities = func(child int, reps []map[string]any) int {
		return 1 + child*max(len(reps), 1)
	}
}

// operationLabel names an operation for metrics by its first root field, a
// name from the schema: the operation name is the client's to choose, so it
// would let anyone create series (or put a secret in a label).
func operationLabel(oc *graphql.OperationContext) string {
	if oc.Operation == nil {
		return "invalid"
	}
	for _, sel := range oc.Operation.SelectionSet {
		if f, ok := sel.(*ast.Field); ok && f.Definition != nil {
			return string(oc.Operation.Operation) + " " + f.Name
		}
	}
	return string(oc.Operation.Operation)
}

// roundTripCost is the complexity of a field that queries the database: with
// the default limit, at most 200 of them in one request.
const roundTripCost = 50

// maxQueryTokens is the most lexical tokens a query may have.
const maxQueryTokens = 5000

// errPanic answers for a resolver that panicked; the panic itself is logged.
var errPanic = errors.New("resolver panicked")

// federationOnlyIntrospection lets the gateway read `_service { sdl }`, which
// gqlgen ties to introspection, while refusing __schema and __type.
type federationOnlyIntrospection struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = federationOnlyIntrospection{}

func (federationOnlyIntrospection) ExtensionName() string                   { return "FederationOnlyIntrospection" }
func (federationOnlyIntrospection) Validate(graphql.ExecutableSchema) error { return nil }

func (federationOnlyIntrospection) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	service, others := false, false
	for _, f := range graphql.CollectFields(oc, oc.Operation.SelectionSet, nil) {
		switch f.Name {
		case "__schema", "__type":
			err := gqlerror.Errorf("introspection is disabled; the schema is published through _service { sdl }")
			err.Extensions = map[string]any{"code": codeValidation}
			return err
		case "_service":
			service = true
		case "__typename":
		default:
			others = true
		}
	}
	if service && others {
		// gqlgen would answer _service with an error of its own, which the
		// presenter could not tell from an internal one.
		err := gqlerror.Errorf("introspection is disabled; ask for _service { sdl } on its own")
		err.Extensions = map[string]any{"code": codeValidation}
		return err
	}
	oc.DisableIntrospection = others
	return nil
}

// shapeLimit rejects, before it runs and before its cost is computed, an
// operation nested deeper than its depth limit, or one whose fields, with every
// fragment spread expanded, number more than maxExpandedFields: gqlgen's
// complexity calculation expands fragments, so a small query whose fragments
// spread each other twice over would otherwise take exponential time.
// Introspection fields (__schema, __type) are not counted, as clients send deep
// introspection queries by design.
type shapeLimit int

// maxExpandedFields bounds the fields of one operation with fragments expanded.
const maxExpandedFields = 2000

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = shapeLimit(0)

func (shapeLimit) ExtensionName() string                   { return "ShapeLimit" }
func (shapeLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (d shapeLimit) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	s := measure(oc.Operation.SelectionSet, map[string]shape{})
	var err *gqlerror.Error
	switch {
	case s.depth > int(d):
		err = gqlerror.Errorf("query depth %d exceeds the limit of %d", s.depth, int(d))
	case s.fields > maxExpandedFields:
		err = gqlerror.Errorf("query selects more than %d fields once fragments are expanded", maxExpandedFields)
	default:
		return nil
	}
	err.Extensions = map[string]any{"code": codeValidation}
	return err
}

type shape struct {
	depth  int
	fields int // saturates at maxExpandedFields+1
}

// measure returns the depth and the expanded field count of set. Each
// fragment is measured once (memo), so the walk is linear in the query's
// size; validation has already refused fragment cycles.
func measure(set ast.SelectionSet, memo map[string]shape) shape {
	var out shape
	for _, sel := range set {
		var s shape
		switch sel := sel.(type) {
		case *ast.Field:
			if len(sel.Name) > 1 && sel.Name[:2] == "__" && sel.Name != "__typename" {
				continue
			}
			s = measure(sel.SelectionSet, memo)
			s.depth++
			s.fields++
		case *ast.InlineFragment:
			s = measure(sel.SelectionSet, memo)
		case *ast.FragmentSpread:
			if sel.Definition == nil {
				continue
			}
			var ok bool
			if s, ok = memo[sel.Name]; !ok {
				s = measure(sel.Definition.SelectionSet, memo)
				memo[sel.Name] = s
			}
		}
		out.depth = max(out.depth, s.depth)
		out.fields = min(out.fields+s.fields, maxExpandedFields+1)
	}
	return out
}
