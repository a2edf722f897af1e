// Command webapp is the example web app of Patient Outreach: log in with a
// password and a code texted to the administrator, pick a flow, upload a
// CSV of recipients, preview, start the campaign, watch its progress live
// and download the answers. It is what a clinic runs as it is, and what
// developers read to learn how to embed the library.
//
//	go run ./examples/webapp                     # dev mode: fake Twilio, simulated phones
//	go run ./examples/webapp hash-password < pw  # prints PASSWORD_HASH for a password
//
// Configuration comes from flags, environment variables and an optional
// .env file (see config.go). With no Twilio credentials it runs in dev
// mode: the fake Twilio of outreach/twiliotest runs in-process, the
// patients are simulated phones you answer for on the /simulator page, and
// the password and login codes are printed on the terminal.
//
// The files, in reading order: config.go (settings), server.go (wiring,
// middleware, routes), runtimes.go (the one place that picks the campaign
// runtimes), login.go, users.go (named users and roles), flowpages.go,
// campaigns.go, sse.go (live progress), dev.go (dev mode and the phone
// simulator).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/patient-outreach/sms/verify"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	var ue *usageError
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.As(err, &ue):
		fmt.Fprintf(os.Stderr, "webapp: %v\n", err)
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "webapp: %v\n", err)
		os.Exit(1)
	}
}

// run runs the command: the hash-password subcommand, or the server until
// ctx is cancelled (SIGINT, SIGTERM).
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "hash-password" {
		return hashPassword(stdin, stdout, stderr)
	}
	cfg, err := loadConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, stderr)
}

// hashPassword reads a password (the first line of stdin) and prints its
// argon2id hash, for PASSWORD_HASH.
func hashPassword(stdin io.Reader, stdout, stderr io.Writer) error {
	fmt.Fprintln(stderr, "Type the password and press Enter (at least 12 characters):")
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	h, err := verify.HashPassword(strings.TrimRight(line, "\r\n"))
	if err != nil {
		return &usageError{msg: err.Error()}
	}
	fmt.Fprintf(stdout, "PASSWORD_HASH='%s'\n", h)
	return nil
}
