package graph

import (
	"testing"

	"github.com/alternatefutures/patd/graph/model"
	"github.com/alternatefutures/patd/internal/pat"
)

// The security log lists exactly the actions the schema's enum can name:
// one without a name would fail the whole page, a name without an action
// would never be seen.
func TestEveryEventActionHasAName(t *testing.T) {
	named := map[model.PersonalAccessTokenEventAction]bool{}
	for _, a := range pat.LogActions {
		n, ok := eventActions[a]
		if !ok {
			t.Errorf("audit action %q is listed by pat.LogActions but has no enum value", a)
		}
		named[n] = true
	}
	if len(eventActions) != len(pat.LogActions) {
		t.Errorf("eventActions names %d actions, pat.LogActions lists %d", len(eventActions), len(pat.LogActions))
	}
	for _, v := range model.AllPersonalAccessTokenEventAction {
		if !named[v] {
			t.Errorf("enum value %s stands for no listed audit action", v)
		}
	}
}
