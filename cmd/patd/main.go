// Command patd serves and operates the personal access token service.
//
//	patd [serve]          apply pending migrations, then serve HTTP
//	patd migrate          apply pending migrations and exit
//	patd cleanup          delete expired tokens once and exit
//	patd import --csv F   import tokens exported from the old backend
//	patd version          print the version
//
// Configuration comes from the environment; see the README.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/alternatefutures/patd/internal/config"
	"github.com/alternatefutures/patd/internal/logging"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const logLevel = slog.LevelInfo

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "patd:", err)
		}
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(1)
	}
}

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "apply pending migrations, then serve HTTP (the default)", serve},
		{"migrate", "apply pending migrations and exit", migrate},
		{"cleanup", "delete expired tokens once and exit (for cron)", cleanup},
		{"import", "import tokens from the old backend's CSV export: import --csv FILE", importCSV},
		{"version", "print the version", func(_ context.Context, args []string, stdout, stderr io.Writer) error {
			if err := newFlags("version", "print the version", stderr).Parse(args); err != nil {
				return err
			}
			fmt.Fprintln(stdout, "patd", version)
			return nil
		}},
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	name := "serve"
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		usage(stdout)
		return nil
	}
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		name, args = args[0], args[1:]
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, args, stdout, stderr)
		}
	}
	usage(stderr)
	return fmt.Errorf("unknown command %q", name)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: patd [command] [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nConfiguration is read from the environment (see README.md). `patd COMMAND --help` for flags.")
}

func newFlags(name, summary string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: patd %s\n\n%s\n", name, summary)
		fs.PrintDefaults()
	}
	return fs
}

func loadConfig() (*config.Config, *slog.Logger, error) {
	log := logging.New(os.Stderr, logLevel)
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		return nil, log, err
	}
	return cfg, log, nil
}
