package graph_test

import (
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/99designs/gqlgen/graphql/handler/apollofederatedtracingv1/generated"
	"google.golang.org/protobuf/proto"
)

// ftv1 returns the decoded extensions.ftv1 of a raw answer, nil when absent.
func ftv1(t *testing.T, body []byte) *generated.Trace {
	t.Helper()
	var out struct {
		Extensions struct {
			FTV1 *string `json:"ftv1"`
		} `json:"extensions"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, body)
	}
	if out.Extensions.FTV1 == nil {
		return nil
	}
	raw, err := base64.StdEncoding.DecodeString(*out.Extensions.FTV1)
	if err != nil {
		t.Fatalf("extensions.ftv1 is not base64: %v", err)
	}
	var tr generated.Trace
	if err := proto.Unmarshal(raw, &tr); err != nil {
		t.Fatalf("extensions.ftv1 is not an Apollo trace: %v", err)
	}
	return &tr
}

func child(n *generated.Trace_Node, name string) *generated.Trace_Node {
	for _, c := range n.GetChild() {
		if c.GetResponseName() == name {
			return c
		}
	}
	return nil
}

// A router that sends apollo-federation-include-trace: ftv1 gets a federated
// trace of the fetch in extensions.ftv1; nobody else does.
func TestFederatedTracing(t *testing.T) {
	t.Parallel()
	r := startReplica(t)
	jwt := r.JWT("user-ftv1")
	mustCreate(t, r, jwt, "traced")
	const q = `{ personalAccessTokens(first: 5) { totalCount data { name } } }`

	res := r.GraphQL(t, jwt, q, nil, "apollo-federation-include-trace: ftv1")
	ok(t, res)
	tr := ftv1(t, res.Body)
	if tr == nil {
		t.Fatalf("no extensions.ftv1 in %s", res.Body)
	}
	if tr.GetStartTime() == nil || tr.GetEndTime() == nil || tr.GetDurationNs() == 0 ||
		tr.GetEndTime().AsTime().Before(tr.GetStartTime().AsTime()) {
		t.Errorf("trace times: start %v end %v duration %dns", tr.GetStartTime(), tr.GetEndTime(), tr.GetDurationNs())
	}
	list := child(tr.GetRoot(), "personalAccessTokens")
	if list == nil {
		t.Fatalf("the trace has no node for personalAccessTokens: %v", tr.GetRoot())
	}
	if list.GetParentType() != "Query" || list.GetType() != "PersonalAccessTokenList!" || list.GetEndTime() < list.GetStartTime() {
		t.Errorf("personalAccessTokens node: parent %q type %q start %d end %d",
			list.GetParentType(), list.GetType(), list.GetStartTime(), list.GetEndTime())
	}
	if child(list, "totalCount") == nil {
		t.Errorf("no node for personalAccessTokens.totalCount: %v", list)
	}

	// Errors are in the trace, their messages masked.
	res = r.GraphQL(t, "", q, nil, "apollo-federation-include-trace: ftv1")
	wantError(t, res, "UNAUTHENTICATED")
	tr = ftv1(t, res.Body)
	if tr == nil {
		t.Fatalf("no extensions.ftv1 for a failed operation: %s", res.Body)
	}
	failed := child(tr.GetRoot(), "personalAccessTokens")
	if failed == nil || len(failed.GetError()) != 1 || failed.GetError()[0].GetMessage() != "<masked>" {
		t.Errorf("want the error, masked, on the personalAccessTokens node, got %v", failed)
	}

	// Without the header (or with another value), no trace.
	for _, h := range []string{"", "apollo-federation-include-trace: ftv2"} {
		res := r.GraphQL(t, jwt, q, nil, h)
		ok(t, res)
		if tr := ftv1(t, res.Body); tr != nil {
			t.Errorf("header %q: got extensions.ftv1", h)
		}
	}
}
