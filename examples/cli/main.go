// Command cli is the command-line example of Patient Outreach: it validates
// a recipients CSV, runs a campaign on SQLite with simulated phones, and
// exports the responses.
//
//	go run ./examples/cli run --flow provider --csv flows/testdata/sample_recipients.csv
//	go run ./examples/cli validate recipients.csv
//	go run ./examples/cli export --campaign 1 --out responses.csv
//	go run ./examples/cli campaigns
//
// Exit codes: 0 success, 1 invalid input (CSV rows or flow with errors),
// 2 usage error, 3 any other failure.
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
	"sort"
	"strings"
	"time"
	_ "time/tzdata" // quiet hours need zone data even where the system has none

	"github.com/patient-outreach/sms/csvio"
	"github.com/patient-outreach/sms/flows"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/simphone"
	"github.com/patient-outreach/sms/outreach/sqlitestore"
)

// Exit codes.
const (
	exitOK      = 0
	exitInvalid = 1
	exitUsage   = 2
	exitFailure = 3
)

// errInvalid marks failures caused by the user's input (exit code 1).
var errInvalid = errors.New("invalid input")

// errUsage marks command-line mistakes (exit code 2).
var errUsage = errors.New("usage")

const usage = `usage: cli <command> [flags]

commands:
  run        run a campaign on simulated phones (SQLite, simulated clock)
  validate   check a recipients CSV: every row error and warning, by line
  export     write a campaign's responses as CSV
  campaigns  list the campaigns in the database

Run "cli <command> -h" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmds := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"run": cmdRun, "validate": cmdValidate, "export": cmdExport, "campaigns": cmdCampaigns,
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "cli: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
	err := cmd(ctx, args[1:], stdout, stderr)
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "cli %s: %v\n", args[0], err)
		return exitUsage
	case errors.Is(err, errInvalid), errors.Is(err, outreach.ErrInvalidFlow):
		fmt.Fprintf(stderr, "cli %s: %v\n", args[0], err)
		return exitInvalid
	}
	fmt.Fprintf(stderr, "cli %s: %v\n", args[0], err)
	return exitFailure
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}

func cmdValidate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("validate", stderr)
	region := fs.String("region", "US", "country of numbers written without +")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: validate takes one CSV file", errUsage)
	}
	res, err := readRecipients(ctx, fs.Arg(0), *region)
	if err != nil {
		return err
	}
	report(stdout, res)
	if len(res.Errors) > 0 {
		return fmt.Errorf("%w: %d of %d rows have errors", errInvalid, res.BadRows, res.Rows)
	}
	return nil
}

func readRecipients(ctx context.Context, path, region string) (csvio.Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return csvio.Result{}, err
	}
	defer f.Close()
	res, err := csvio.ReadAll(ctx, f, csvio.Options{DefaultRegion: region})
	if err != nil {
		var he *csvio.HeaderError
		var le *csvio.LimitError
		if errors.As(err, &he) || errors.As(err, &le) {
			return res, fmt.Errorf("%w: %s: %v", errInvalid, path, err)
		}
		return res, fmt.Errorf("%s: %w", path, err)
	}
	return res, nil
}

// report prints every row error and warning, by line, then a summary.
func report(w io.Writer, res csvio.Result) {
	for _, e := range res.Errors {
		fmt.Fprintf(w, "error:   %v\n", e)
	}
	for _, e := range res.Warnings {
		fmt.Fprintf(w, "warning: %v\n", e)
	}
	fmt.Fprintf(w, "%d rows: %d valid, %d with errors, %d warnings\n", res.Rows, len(res.Recipients), res.BadRows, len(res.Warnings))
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("run", stderr)
	flowName := fs.String("flow", "provider", "built-in flow ("+strings.Join(flows.BuiltinNames(), ", ")+") or a flow JSON file")
	csvPath := fs.String("csv", "", "recipients CSV (patient_id, patient_first_name, patient_phone)")
	dbPath := fs.String("db", "outreach.db", "SQLite database file")
	from := fs.String("from", "+15005550006", "sending number")
	zone := fs.String("zone", "America/New_York", "time zone for recipients whose zone cannot be told")
	region := fs.String("region", "US", "country of numbers written without +")
	skipBad := fs.Bool("skip-bad-rows", false, "run with the valid rows when some rows have errors")
	seed := fs.Uint64("seed", 1, "seed of the simulated patients' behaviour")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *csvPath == "" {
		return fmt.Errorf("%w: --csv is required", errUsage)
	}
	flow, err := loadFlow(*flowName)
	if err != nil {
		return err
	}
	res, err := readRecipients(ctx, *csvPath, *region)
	if err != nil {
		return err
	}
	if len(res.Errors) > 0 || len(res.Warnings) > 0 {
		report(stderr, res)
	}
	if len(res.Errors) > 0 && !*skipBad {
		return fmt.Errorf("%w: %d rows have errors: fix them, or pass --skip-bad-rows to run the %d valid ones", errInvalid, res.BadRows, len(res.Recipients))
	}
	if len(res.Recipients) == 0 {
		return fmt.Errorf("%w: no valid recipient: nothing to send", errInvalid)
	}

	store, err := sqlitestore.Open(ctx, *dbPath)
	if err != nil {
		return err
	}
	defer store.Close()
	clock := outreach.NewManualClock(time.Now())
	net := simphone.New(clock, *seed)
	net.SetDefault(simphone.RandomPersona)
	runner := outreach.NewRunner(store, simphone.NewSender(net), outreach.RunnerOptions{
		From: *from, DefaultZone: *zone, Clock: clock,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	name := fmt.Sprintf("%s %s", flow.ID, time.Now().Format(time.DateTime))
	camp, added, err := runner.CreateCampaign(ctx, outreach.NewCampaign{Name: name, Flow: flow}, res.Recipients)
	if err != nil {
		return err
	}
	if err := runner.StartCampaign(ctx, camp.ID); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "campaign %d: flow %s, %d recipients, sending from %s\n", camp.ID, flow.ID, added, *from)
	fmt.Fprintln(stdout, "simulated phones on a simulated clock: campaign time jumps from event to event")

	wall := time.Now()
	sim := &simphone.Simulation{Runner: runner, Store: store, Network: net, Clock: clock}
	took, err := sim.Run(ctx, camp.ID)
	if err != nil {
		return err
	}
	p, err := store.Progress(ctx, camp.ID, clock.Now())
	if err != nil {
		return err
	}
	st := runner.Stats()
	fmt.Fprintf(stdout, "done: %s of simulated campaign time in %s\n", took.Round(time.Second), time.Since(wall).Round(time.Millisecond))
	fmt.Fprintf(stdout, "messages: %d sent, %d replies, %d deferred by quiet hours, %d failed\n", st.Sent, p.Replies, st.Deferred, st.Failed)
	fmt.Fprintln(stdout, "outcomes:")
	keys := make([]string, 0, len(p.Outcomes))
	for k := range p.Outcomes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(stdout, "  %-20s %d\n", k, p.Outcomes[k])
	}
	fmt.Fprintf(stdout, "export the answers: go run ./examples/cli export --db %s --campaign %d --out responses.csv\n", *dbPath, camp.ID)
	return nil
}

func loadFlow(name string) (*outreach.Flow, error) {
	if strings.HasSuffix(name, ".json") {
		return flows.LoadFile(name)
	}
	f, err := flows.Builtin(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	return f, nil
}

func cmdExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("export", stderr)
	dbPath := fs.String("db", "outreach.db", "SQLite database file")
	id := fs.Int64("campaign", 0, "campaign id (default: the newest)")
	out := fs.String("out", "-", "output file, - for standard output")
	if err := parse(fs, args); err != nil {
		return err
	}
	store, err := openExisting(ctx, *dbPath)
	if err != nil {
		return err
	}
	defer store.Close()
	if *id == 0 {
		list, err := store.Campaigns(ctx)
		if err != nil {
			return err
		}
		if len(list) == 0 {
			return fmt.Errorf("%w: %s has no campaign", errUsage, *dbPath)
		}
		*id = list[0].ID
	}
	if _, err := store.Campaign(ctx, *id); err != nil {
		return fmt.Errorf("%w: campaign %d: %v", errUsage, *id, err)
	}
	w := stdout
	if *out != "-" {
		f, err := os.OpenFile(*out, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	n, err := csvio.ExportResponses(ctx, w, store, *id)
	if err != nil {
		return err
	}
	if *out != "-" {
		fmt.Fprintf(stderr, "wrote %d rows to %s\n", n, *out)
	}
	return nil
}

func cmdCampaigns(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("campaigns", stderr)
	dbPath := fs.String("db", "outreach.db", "SQLite database file")
	if err := parse(fs, args); err != nil {
		return err
	}
	store, err := openExisting(ctx, *dbPath)
	if err != nil {
		return err
	}
	defer store.Close()
	list, err := store.Campaigns(ctx)
	if err != nil {
		return err
	}
	for _, c := range list {
		p, err := store.Progress(ctx, c.ID, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%4d  %-9s  %-10s  %4d recipients, %4d done  %s\n", c.ID, c.Status, c.Flow.ID, p.Total, p.Done, c.Name)
	}
	return nil
}

// openExisting opens a database that must already exist, rather than
// creating an empty one by mistake.
func openExisting(ctx context.Context, path string) (*sqlitestore.Store, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w: %s: no such database (run a campaign first)", errUsage, path)
	}
	return sqlitestore.Open(ctx, path)
}
