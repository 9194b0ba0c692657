// Command offpush is the offline-push worker of the IM system and its tools. Each verb's code
// lives with the package it drives; this file only dispatches.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// verb is the shape every subcommand has: flags in args, output to the writers, an error to
// report. A cancelled ctx (SIGINT/SIGTERM) asks it to stop.
type verb struct {
	run  func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error
	help string
}

var verbs = map[string]verb{}

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(os.Stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	v, ok := verbs[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "offpush: unknown command %q\n\n", args[0])
		usage(os.Stderr)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := v.run(ctx, args[1:], os.Stdin, os.Stdout, os.Stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	default:
		fmt.Fprintf(os.Stderr, "offpush %s: %v\n", args[0], err)
		return 1
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: offpush <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(verbs))
	for n := range verbs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, verbs[n].help)
	}
	fmt.Fprintln(w, "\nRun 'offpush <command> -h' for the flags of a command.")
}
