package graph

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// maxRepresentations is the most _entities representations one request may
// ask for, over all its _entities fields: a gateway asks for the entities of
// one page of results, far fewer.
const maxRepresentations = 1000

// entityTypes are the entity types of the schema, which _entities resolves.
var entityTypes = map[string]bool{"PersonalAccessToken": true, "User": true}

// checkRepresentations refuses, before it runs, an operation whose _entities
// representations are more than maxRepresentations or not what a gateway
// sends: an object with the __typename of an entity type and a string id.
// The generated federation code would otherwise report each bad one as an
// error of its own (9,999 empty representations: 9,999 errors), and as
// internal ones, as it cannot tell them from its own failures. One
// BAD_USER_INPUT error answers the whole request instead: a gateway never
// sends a bad representation, so whoever does gets nothing resolved.
type checkRepresentations struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = checkRepresentations{}

func (checkRepresentations) ExtensionName() string                   { return "CheckRepresentations" }
func (checkRepresentations) Validate(graphql.ExecutableSchema) error { return nil }

func (checkRepresentations) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil || oc.Operation.Operation != ast.Query {
		return nil
	}
	n := 0
	for _, f := range graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{"Query"}) {
		if f.Name != "_entities" {
			continue
		}
		reps := f.ArgumentMap(oc.Variables)["representations"]
		list, ok := reps.([]any)
		if !ok {
			// A single value where a list is expected is a list of one.
			list = []any{reps}
		}
		if n += len(list); n > maxRepresentations {
			return badRepresentations("at most %d _entities representations per request", maxRepresentations)
		}
		for i, rep := range list {
			if problem := checkRepresentation(rep); problem != "" {
				// The message names the problem, never the client's values:
				// a __typename may be a megabyte long.
				return badRepresentations("representations[%d]: %s", i, problem)
			}
		}
	}
	return nil
}

// checkRepresentation says what is wrong with one representation, or "".
func checkRepresentation(rep any) string {
	m, ok := rep.(map[string]any)
	if !ok {
		return "want an object"
	}
	if t, ok := m["__typename"].(string); !ok || !entityTypes[t] {
		return `__typename must be "PersonalAccessToken" or "User"`
	}
	if _, ok := m["id"].(string); !ok {
		return "id must be a string"
	}
	return ""
}

func badRepresentations(format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, args...)
	err.Extensions = map[string]any{"code": codeBadUserInput}
	return err
}

// maxErrors is the most errors one answer carries; capErrors replaces the
// rest with one that counts them. Every field of a big query can fail alike
// (say, 200 aliased lookups without credentials): their errors would
// outweigh the answer without telling the client anything more.
const maxErrors = 50

func capErrors(resp *graphql.Response) {
	if resp == nil || len(resp.Errors) <= maxErrors {
		return
	}
	rest := resp.Errors[maxErrors:]
	summary := &gqlerror.Error{
		Message: fmt.Sprintf("too many errors: %d more were left out", len(rest)),
		// Clients read a code from the contract's list on every error: this
		// one stands for errors like the first it leaves out.
		Extensions: map[string]any{"code": rest[0].Extensions["code"]},
	}
	resp.Errors = append(resp.Errors[:maxErrors:maxErrors], summary)
}
