package pattest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Postgres is a PostgreSQL server of a test's own (initdb in a temporary
// directory, a free port), so that the test can stop and restart it.
type Postgres struct {
	Port int
	t    testing.TB
	dir  string
	bin  string
}

// StartPostgres creates and starts a PostgreSQL server for t, run as the
// postgres user (initdb refuses root), and stops it when t ends.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		t.Fatal("initdb not found under /usr/lib/postgresql (make services installs PostgreSQL)")
	}
	base, err := os.MkdirTemp("", "patd-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	p := &Postgres{Port: FreePort(t), t: t, dir: filepath.Join(base, "data"), bin: filepath.Dir(matches[0])}
	p.asRoot("chown", "-R", "postgres", base) // as root: the one step that is not postgres's own
	p.run(filepath.Join(p.bin, "initdb"), "-D", p.dir, "-A", "trust", "-U", "postgres", "--no-sync")
	p.Start()
	t.Cleanup(p.Stop)
	return p
}

// URL is the URL of database name on the server.
func (p *Postgres) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.Port, name)
}

// Start starts the server and waits until it accepts connections.
func (p *Postgres) Start() {
	p.t.Helper()
	opts := "-p " + strconv.Itoa(p.Port) + " -c listen_addresses=127.0.0.1 -k " + filepath.Dir(p.dir) + " -c fsync=off"
	p.run(filepath.Join(p.bin, "pg_ctl"), "-D", p.dir, "-o", opts, "-l", filepath.Join(filepath.Dir(p.dir), "log"), "-w", "-t", "60", "start")
}

// Stop stops the server at once, as a crash or an operator's fast shutdown
// would: every connection is closed.
func (p *Postgres) Stop() {
	p.t.Helper()
	cmd := exec.Command("runuser", "-u", "postgres", "--", filepath.Join(p.bin, "pg_ctl"), "-D", p.dir, "-m", "fast", "-w", "-t", "60", "stop")
	_ = cmd.Run() // stopping a stopped server is fine
}

// Restart stops and starts the server.
func (p *Postgres) Restart() {
	p.t.Helper()
	p.Stop()
	p.Start()
}

func (p *Postgres) run(name string, args ...string) {
	p.t.Helper()
	cmd := exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
}

func (p *Postgres) asRoot(name string, args ...string) {
	p.t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		p.t.Fatalf("%s: %v\n%s", name, err, out)
	}
}
