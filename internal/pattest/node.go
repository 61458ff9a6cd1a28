package pattest

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RequireNode returns the node binary, failing the test (never skipping it:
// CI must not silently lose what needs node) when node is not on PATH or a
// dependency of the npm package in dir is not installed in dir/node_modules;
// target is the make target that installs them.
func RequireNode(t testing.TB, dir, target string) string {
	t.Helper()
	var pkg struct {
		Engines      struct{ Node string } `json:"engines"`
		Dependencies map[string]string     `json:"dependencies"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err == nil {
		err = json.Unmarshal(b, &pkg)
	}
	if err != nil {
		t.Fatalf("read the npm package in %s: %v", dir, err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not on PATH (%v): install Node.js %s (make services does) and run make %s", err, pkg.Engines.Node, target)
	}
	modules, err := filepath.Abs(filepath.Join(dir, "node_modules"))
	if err != nil {
		t.Fatal(err)
	}
	for dep := range pkg.Dependencies {
		if _, err := os.Stat(filepath.Join(modules, filepath.FromSlash(dep), "package.json")); err != nil {
			t.Fatalf("%s is not installed in %s (%v): run make %s", dep, modules, err, target)
		}
	}
	return node
}
