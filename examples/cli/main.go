// Command cli is the command-line example of Patient Outreach: it checks
// recipient lists and flows, runs campaigns through the library's
// [outreach.Runtime] (the embedded runtime on SQLite with simulated phones,
// or Twilio Studio), shows their progress, exports their responses, and
// deploys flows to Twilio Studio.
//
// Usage:
//
//	cli validate FILE.csv
//	cli run --csv FILE [--flow NAME|FILE.json] [--db PATH] [--runtime embedded|studio] [--name NAME] [--speed X | --realtime]
//	cli status [--campaign ID] [--db PATH]
//	cli export --campaign ID [--db PATH] [--out FILE]
//	cli optouts export [--db PATH] [--out FILE]
//	cli optouts import [--db PATH] FILE.csv
//	cli audit [--db PATH] [--since RFC3339] [--actor NAME] [--action A] [--csv FILE|-]
//	cli purge --db PATH --older-than AGE
//	cli flows list [--dir DIR]
//	cli flows show NAME|FILE.json
//	cli flows validate FILE.json
//	cli flows export-studio NAME|FILE.json [--out FILE]
//	cli flows import-studio FILE.json [--out FILE] [--id ID]
//	cli studio deploy NAME|FILE.json [--draft] [--point-number]
//	cli studio list
//	cli studio delete NAME|SID
//	cli users add --name NAME --role viewer|operator|admin --phone +1... [--db PATH] < password
//	cli users list [--db PATH]
//
// A five-minute tour, from the repository's root:
//
//	go run ./examples/cli validate flows/testdata/sample_recipients.csv
//	go run ./examples/cli run --flow provider --csv flows/testdata/sample_recipients.csv
//	go run ./examples/cli status
//	go run ./examples/cli export --campaign 1 --out responses.csv
//
// run creates a campaign named --name (default: the flow's id and the CSV
// file's name) and runs it until every conversation has ended. When the
// database already holds an unfinished campaign of that name, run resumes
// it instead: stop a run with Ctrl-C and run the same command again to go
// on where it stopped, with no message sent twice. The embedded runtime
// sends to simulated phones: by default on a simulated clock that jumps
// from event to event, so hours of campaign time pass in seconds; with
// --speed X campaign time runs X times faster than real time (--realtime
// is --speed 1).
//
// Each campaign records its world (outreach.Campaign.World): the
// embedded runtime's simulated phones are world "sim", the studio runtime
// on a Twilio account is "twilio:" and the account SID. A runtime works
// only on its own world's campaigns, and the simulation keeps its own
// database, outreach-sim.db by default (the studio runtime's is
// outreach.db, the web app's default), so that it never runs the web
// app's campaigns on its simulated clock. --db chooses the file, or a
// postgres:// URL for a PostgreSQL database; status and export show each
// campaign's world.
//
// Progress goes to standard output: on a terminal, a progress bar redrawn
// in place; otherwise a plain line every few seconds (--every) and at
// every tenth of the campaign, then a summary.
//
// Every command takes --json: its output is then one JSON document on
// standard output (run writes JSON lines: one per progress report, the
// last one the summary). Errors are written to standard error, and with
// --json also as {"error": ..., "exit_code": ...} on standard output when
// nothing else was written there.
//
// Twilio (the studio commands, --runtime studio) is configured from the
// environment: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_PHONE_NUMBER
// and TWILIO_MESSAGING_SERVICE_SID (ACCOUNT_SID and AUTH_TOKEN are read
// too); TWILIO_API_BASE points every Twilio host at a fake Twilio, for
// tests.
//
// run, export and optouts import and export append entries to the
// database's audit trail (outreach.AuditEntry: ids only, never PHI), with
// the user from --actor or $USER and client "cli"; audit lists them.
//
// Exit codes:
//
//	0    success
//	1    invalid input: CSV rows (recipients, opt-outs), a flow file or a Studio definition with errors
//	2    usage error: unknown command or flag, missing argument or file, missing configuration
//	3    any other failure (database, network, Twilio)
//	130  interrupted (Ctrl-C): run the same command again to resume
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	_ "time/tzdata" // quiet hours need zone data even where the system has none

	"github.com/patient-outreach/sms/outreach"
)

// Exit codes.
const (
	exitOK          = 0
	exitInvalid     = 1
	exitUsage       = 2
	exitFailure     = 3
	exitInterrupted = 130
)

var (
	// errInvalid marks failures caused by the user's input (exit code 1).
	errInvalid = errors.New("invalid input")
	// errUsage marks command-line mistakes and missing configuration (exit code 2).
	errUsage = errors.New("usage")
	// errInterrupted marks a command stopped by Ctrl-C (exit code 130).
	errInterrupted = errors.New("interrupted")
	// errReported marks a failure already explained on the output: only
	// its exit code remains to give.
	errReported = errors.New("reported")
)

const usage = `usage: cli <command> [flags]

commands:
  validate FILE.csv                     check a recipients CSV: every row error and warning, by line
  run --csv FILE [--flow NAME|FILE]     run a campaign until it is done; the same command again
      [--db PATH] [--name NAME]         resumes an unfinished campaign of that name
      [--runtime embedded|studio]       (embedded: SQLite and simulated phones; the database
                                        is outreach-sim.db, or outreach.db with studio)
      [--speed X | --realtime]
  status [--campaign ID] [--db PATH]    campaigns and their progress
  export --campaign ID [--db PATH]      a campaign's responses as CSV
      [--out FILE]
  optouts export [--db PATH]            every opt-out (and opt-in) as CSV, for a CRM; the
      [--out FILE]                      database is the web app's, outreach.db
  optouts import [--db PATH] FILE.csv   a CRM's opt-outs (exit 1 on bad rows; the good ones
                                        are recorded)
  audit [--db PATH] [--since RFC3339]   the audit trail: who did what and when (ids only);
      [--actor NAME] [--action A]       --csv FILE (- for stdout) writes it as CSV
      [--csv FILE|-]
  purge --db PATH --older-than AGE      delete the message texts and replies of campaigns that
                                        finished more than AGE (90d, 36h) ago; ids, outcomes,
                                        counts and answers stay
  flows list [--dir DIR]                the built-in flows, and the flow files in DIR
  flows show NAME|FILE                  a flow's steps
  flows validate FILE.json              check a flow file: every error, by line and field
  flows export-studio NAME|FILE         a flow as a Twilio Studio definition
      [--out FILE]
  flows import-studio FILE.json         a Twilio Studio definition as a flow file
      [--out FILE] [--id ID]
  studio deploy NAME|FILE [--draft]     deploy a flow to Twilio Studio (published unless --draft)
      [--point-number]                  and point TWILIO_PHONE_NUMBER's replies at it
  studio list                           the account's Studio flows
  studio delete NAME|SID                delete a Studio flow
  users add --name NAME --role ROLE     add a user of the web app (viewer, operator, admin);
      --phone +1... [--db PATH]         the password is read from standard input
  users list [--db PATH]                the web app's users

--db PATH is an SQLite file, or a postgres:// (postgresql://) URL for PostgreSQL.

Every command takes --json (machine-readable output on stdout) and -h.
Twilio comes from TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_PHONE_NUMBER.

exit codes:
  0    success
  1    invalid input (CSV rows, flow, Studio definition)
  2    usage error: unknown command or flag, missing argument or file, missing configuration
  3    any other failure
  130  interrupted (Ctrl-C): run the same command again to resume
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first Ctrl-C, a second one kills the program at once.
	context.AfterFunc(ctx, stop)
	code := run(ctx, &app{
		stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv,
		terminal: isTerminal(os.Stdout),
	}, os.Args[1:])
	stop()
	os.Exit(code)
}

// isTerminal reports whether f is a terminal (a character device).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// app is what every command works with.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// terminal is true when stdout is a terminal: run draws a progress bar.
	terminal bool
	// json is set by a command's --json flag.
	json bool
	// wrote is set once something was written to stdout in JSON mode.
	wrote bool

	// logLevel is the least level logged; nil means slog.LevelWarn.
	// Tests lower it to see every line the runtimes log.
	logLevel slog.Leveler

	// mu serialises the progress bar and the log lines on a terminal.
	mu sync.Mutex
	// bar is the progress bar on the terminal's last line, if any.
	bar string
}

// logWriter writes log lines to stderr; on a terminal it lifts the
// progress bar out of their way and draws it again below them.
type logWriter struct{ a *app }

// logger returns the logger of the runtimes: warnings and errors only
// (unless a.logLevel says otherwise), written around the progress bar.
func (a *app) logger() *slog.Logger {
	level := a.logLevel
	if level == nil {
		level = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(logWriter{a}, &slog.HandlerOptions{Level: level}))
}

func (w logWriter) Write(p []byte) (int, error) {
	a := w.a
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.bar != "" {
		fmt.Fprint(a.stdout, "\r\x1b[K")
	}
	n, err := a.stderr.Write(p)
	if a.bar != "" {
		fmt.Fprint(a.stdout, a.bar)
	}
	return n, err
}

type command func(ctx context.Context, a *app, args []string) error

func commands() map[string]command {
	return map[string]command{
		"validate": cmdValidate,
		"run":      cmdRun,
		"status":   cmdStatus,
		"export":   cmdExport,
		"optouts":  cmdOptOuts,
		"audit":    cmdAudit,
		"flows":    cmdFlows,
		"studio":   cmdStudio,
		"purge":    cmdPurge,
		"users":    cmdUsers,
		// campaigns is the name status had in earlier versions.
		"campaigns": cmdStatus,
	}
}

func run(ctx context.Context, a *app, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(a.stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(a.stdout, usage)
		return exitOK
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		fmt.Fprintf(a.stderr, "cli: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
	err := cmd(ctx, a, args[1:])
	if err != nil && ctx.Err() != nil && !errors.Is(err, errInterrupted) {
		// Whatever failed, it failed because of Ctrl-C.
		err = fmt.Errorf("%w: %v", errInterrupted, err)
	}
	code := exitCode(err)
	if err != nil && !errors.Is(err, flag.ErrHelp) && !errors.Is(err, errReported) {
		msg := strings.TrimPrefix(err.Error(), "usage: ")
		msg = strings.TrimPrefix(msg, "invalid input: ")
		// A package's own prefix ("flows: ...") would repeat the command's.
		msg = strings.TrimPrefix(msg, args[0]+": ")
		fmt.Fprintf(a.stderr, "cli %s: %s\n", args[0], msg)
		if a.json && !a.wrote {
			a.emit(map[string]any{"error": msg, "exit_code": code})
		}
	}
	return code
}

func exitCode(err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errInterrupted):
		return exitInterrupted
	case errors.Is(err, errUsage):
		return exitUsage
	case errors.Is(err, errInvalid), errors.Is(err, outreach.ErrInvalidFlow):
		return exitInvalid
	}
	return exitFailure
}

// emit writes v as one line of JSON on stdout.
func (a *app) emit(v any) {
	a.wrote = true
	enc := json.NewEncoder(a.stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(a.stderr, "cli: writing JSON: %v\n", err)
	}
}

// usageErr returns an error with exit code 2.
func usageErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errUsage}, args...)...)
}

// invalidErr returns an error with exit code 1.
func invalidErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errInvalid}, args...)...)
}

// newFlagSet returns a flag set for a command, with --json bound to a.json.
// synopsis is the command's usage line.
func newFlagSet(a *app, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	fs.BoolVar(&a.json, "json", false, "machine-readable output: JSON on stdout")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: cli %s\n\nflags:\n", synopsis)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), "\nexit codes: 0 ok, 1 invalid input, 2 usage, 3 other failure, 130 interrupted\n")
	}
	return fs
}

// parse parses args, flags and operands in any order ("validate x.csv
// --json" works as "validate --json x.csv"), and checks the operand count.
func parse(fs *flag.FlagSet, args []string, minArgs, maxArgs int) ([]string, error) {
	var operands []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageErr("%v", err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if i := len(args) - len(rest) - 1; i >= 0 && args[i] == "--" {
			operands = append(operands, rest...)
			break
		}
		operands = append(operands, rest[0])
		args = rest[1:]
	}
	switch {
	case len(operands) < minArgs:
		return nil, usageErr("missing argument; see cli %s -h", fs.Name())
	case len(operands) > maxArgs:
		return nil, usageErr("unexpected argument %q; see cli %s -h", operands[maxArgs], fs.Name())
	}
	return operands, nil
}

// output returns where a command writes its result: stdout for "" or "-",
// else the file (mode 0600: responses hold health information). Call the
// returned close function, which reports write errors.
func (a *app) output(path string) (io.Writer, func() error, error) {
	if path == "" || path == "-" {
		return a.stdout, func() error { return nil }, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, nil, err
	}
	return f, f.Close, nil
}
