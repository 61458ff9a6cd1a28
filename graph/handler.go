package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/99designs/gqlgen/graphql/playground"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/alternatefutures/patd/internal/metrics"
	"github.com/alternatefutures/patd/internal/pat"
	"github.com/alternatefutures/patd/internal/requestinfo"
)

// Options configure the GraphQL endpoint.
type Options struct {
	MaxDepth      int
	MaxComplexity int
	// Development enables introspection and GraphiQL.
	Development bool
	Metrics     *metrics.Metrics // may be nil
	Log         *slog.Logger
}

// NewHandler returns the /graphql endpoint over svc. Requests must already
// carry their authentication outcome (auth.Middleware).
func NewHandler(svc *pat.Service, opts Options) http.Handler {
	cfg := Config{Resolvers: &Resolver{Tokens: svc}}
	// List fields cost what they may return, so one query cannot ask for
	// many pages at once.
	// Out-of-range values are refused by the resolver with BAD_USER_INPUT, so
	// they are costed as the nearest valid one.
	listCost := func(child int, first *int, _ *string) int {
		return child * min(max(pageSize(first), 1), pat.MaxPageSize)
	}
	cfg.Complexity.Query.PersonalAccessTokens = listCost
	cfg.Complexity.User.PersonalAccessTokens = listCost

	srv := handler.New(NewExecutableSchema(cfg))
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.POST{})
	if opts.Development {
		srv.AddTransport(transport.GET{})
		srv.Use(extension.Introspection{})
	} else {
		srv.Use(federationOnlyIntrospection{})
	}
	srv.Use(depthLimit(opts.MaxDepth))
	srv.Use(extension.FixedComplexityLimit(opts.MaxComplexity))
	srv.SetErrorPresenter(errorPresenter(opts.Log))
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		resp := next(ctx)
		if resp != nil && graphql.HasOperationContext(ctx) {
			opts.Metrics.GraphQLOperation(graphql.GetOperationContext(ctx).OperationName, len(resp.Errors) == 0)
		}
		return resp
	})
	srv.SetRecoverFunc(func(ctx context.Context, v any) error {
		opts.Log.ErrorContext(ctx, "graphql resolver panicked", "panic", fmt.Sprint(v),
			"request_id", requestinfo.FromContext(ctx).ID)
		return errPanic
	})

	if !opts.Development {
		return srv
	}
	ide := playground.Handler("patd", "/graphql")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Query().Get("query") == "" {
			ide.ServeHTTP(w, r)
			return
		}
		srv.ServeHTTP(w, r)
	})
}

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
	onlyService := true
	for _, f := range graphql.CollectFields(oc, oc.Operation.SelectionSet, nil) {
		switch f.Name {
		case "__schema", "__type":
			err := gqlerror.Errorf("introspection is disabled; the schema is published through _service { sdl }")
			err.Extensions = map[string]any{"code": "GRAPHQL_VALIDATION_FAILED"}
			return err
		case "_service", "__typename":
		default:
			onlyService = false
		}
	}
	oc.DisableIntrospection = !onlyService
	return nil
}

// depthLimit rejects, before it runs, an operation nested deeper than max
// fields. Introspection fields (__schema, __type) are not counted, as clients
// send deep introspection queries by design.
type depthLimit int

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = depthLimit(0)

func (depthLimit) ExtensionName() string                   { return "DepthLimit" }
func (depthLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (d depthLimit) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	if depth := selectionDepth(oc.Operation.SelectionSet, 0); depth > int(d) {
		err := gqlerror.Errorf("query depth %d exceeds the limit of %d", depth, int(d))
		err.Extensions = map[string]any{"code": "GRAPHQL_VALIDATION_FAILED"}
		return err
	}
	return nil
}

// selectionDepth is the depth of the deepest field in set. Fragments are
// followed; validation has already refused fragment cycles.
func selectionDepth(set ast.SelectionSet, seen int) int {
	deepest := seen
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			if len(s.Name) > 1 && s.Name[:2] == "__" && s.Name != "__typename" {
				continue
			}
			d = selectionDepth(s.SelectionSet, seen+1)
		case *ast.InlineFragment:
			d = selectionDepth(s.SelectionSet, seen)
		case *ast.FragmentSpread:
			if s.Definition != nil {
				d = selectionDepth(s.Definition.SelectionSet, seen)
			}
		}
		deepest = max(deepest, d)
	}
	return deepest
}
