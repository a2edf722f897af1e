package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/patient-outreach/sms/csvio"
	"github.com/patient-outreach/sms/fhirio"
	"github.com/patient-outreach/sms/internal/storeopen"
	"github.com/patient-outreach/sms/internal/twilioenv"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/sqlitestore"
)

// rowProblem is a CSV row error or warning in JSON output.
type rowProblem struct {
	Line    int    `json:"line"`
	Column  string `json:"column,omitempty"`
	Message string `json:"message"`
}

func rowProblems(errs []*csvio.RowError) []rowProblem {
	out := make([]rowProblem, 0, len(errs))
	for _, e := range errs {
		out = append(out, rowProblem{Line: e.Line, Column: e.Column, Message: e.Err.Error()})
	}
	return out
}

// csvReport is validate's JSON document.
type csvReport struct {
	File     string       `json:"file"`
	Rows     int          `json:"rows"`
	Valid    int          `json:"valid"`
	BadRows  int          `json:"bad_rows"`
	Errors   []rowProblem `json:"errors"`
	Warnings []rowProblem `json:"warnings"`
}

func newCSVReport(file string, res csvio.Result) csvReport {
	return csvReport{
		File: file, Rows: res.Rows, Valid: res.Rows - res.BadRows, BadRows: res.BadRows,
		Errors: rowProblems(res.Errors), Warnings: rowProblems(res.Warnings),
	}
}

func cmdValidate(ctx context.Context, a *app, args []string) error {
	fs := newFlagSet(a, "validate", "validate [--region CC] [--require-consent] [--fhir] FILE.csv|FILE.ndjson|FILE.json")
	region := fs.String("region", "US", "country of numbers written without +")
	asFHIR := fs.Bool("fhir", false, "the file holds FHIR R4 Patients (NDJSON or a Bundle); the default for .ndjson and .json files")
	consent := fs.Bool("require-consent", false, consentUsage)
	ops, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	res, err := checkRecipients(ctx, ops[0], csvio.Options{DefaultRegion: *region, RequireConsent: *consent}, *asFHIR || fhirFile(ops[0]))
	if err != nil {
		return err
	}
	if a.json {
		a.emit(newCSVReport(ops[0], res))
	} else {
		report(a.stdout, res)
	}
	if len(res.Errors) > 0 {
		return invalidErr("%d of %d rows have errors", res.BadRows, res.Rows)
	}
	return nil
}

// consentUsage is the help of --require-consent.
const consentUsage = "the file must have a consent column; rows whose consent is not yes, true or 1 are skipped and reported"

// onlyNoConsent reports whether every row error of res is a missing
// consent: rows that --require-consent skips, not rows to fix.
func onlyNoConsent(res csvio.Result) bool {
	for _, e := range res.Errors {
		if !errors.Is(e, csvio.ErrNoConsent) {
			return false
		}
	}
	return true
}

// checkRecipients reads the recipients file at path (a CSV file, or
// with asFHIR FHIR R4 Patients, with the phone region of opts and without
// its consent rule) for its problems only: it is streamed, of any size
// and number of rows, and its recipients are counted, not kept (Result's
// Recipients is empty; Rows - BadRows are valid).
func checkRecipients(ctx context.Context, path string, opts csvio.Options, asFHIR bool) (csvio.Result, error) {
	var res csvio.Result
	err := eachRecipientFile(ctx, path, opts, asFHIR, func(rr csvio.RowReader) error {
		return csvio.EachRow(ctx, rr, func(row csvio.Row) error {
			res.Add(row)
			res.Recipients = res.Recipients[:0] // counted, not kept
			return nil
		})
	})
	return res, err
}

// eachRecipientFile opens the recipients file at path as checkRecipients
// reads it, with no limit on its size or rows, and calls read with its
// rows. The error that read returns (io.EOF: none) is the one to show: a
// file to refuse as a whole is an invalid-input error naming the file.
func eachRecipientFile(ctx context.Context, path string, opts csvio.Options, asFHIR bool, read func(csvio.RowReader) error) error {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return usageErr("%s: no such file", path)
		}
		return err
	}
	defer f.Close()
	var rr csvio.RowReader
	if asFHIR {
		rr, err = fhirio.NewReader(f, fhirio.Options{Region: opts.DefaultRegion, Now: time.Now()})
		if err != nil {
			return invalidErr("%s: %v", path, err)
		}
	} else {
		opts.MaxRows, opts.MaxBytes = -1, -1
		rr, err = csvio.NewRecipientReader(f, opts)
	}
	if err == nil {
		err = read(rr)
	}
	var he *csvio.HeaderError
	var le *csvio.LimitError
	switch {
	case err == nil || errors.Is(err, io.EOF):
		return nil
	case ctx.Err() != nil:
		return err
	case asFHIR || errors.As(err, &he) || errors.As(err, &le):
		return invalidErr("%s: %v", path, err)
	}
	return fmt.Errorf("%s: %w", path, err)
}

// fhirFile reports whether path names a FHIR file: .ndjson or .json.
func fhirFile(path string) bool {
	ext := strings.ToLower(filepath.Ext(path))
	return ext == ".ndjson" || ext == ".json"
}

// report prints every row error and warning, by line, then a summary.
func report(w io.Writer, res csvio.Result) {
	for _, e := range res.Errors {
		fmt.Fprintf(w, "error:   %v\n", e)
	}
	for _, e := range res.Warnings {
		fmt.Fprintf(w, "warning: %v\n", e)
	}
	fmt.Fprintf(w, "%d rows: %d valid, %d with errors, %d warnings\n", res.Rows, res.Rows-res.BadRows, res.BadRows, len(res.Warnings))
}

// Default database files. Each world has its own, so that a simulation
// never shares the web app's outreach.db (a dev-mode fake or a real
// account) by accident; --db chooses another file. Even in one file,
// each runtime works only on its own world's campaigns.
const (
	// simDB is the embedded runtime's: a simulation with simulated phones.
	simDB = "outreach-sim.db"
	// studioDB is the studio runtime's, on a real Twilio account: the
	// web app's default file, where the owners of sending numbers are
	// recorded.
	studioDB = "outreach.db"
)

// dbUsage is the help of --db.
const dbUsage = "SQLite database file, or postgres:// URL (default " + simDB + " with the embedded runtime's simulation, " + studioDB + " with --runtime studio)"

// defaultDB is the database file of the runtime called runtime when --db
// is not given.
func defaultDB(runtime string) string {
	if runtime == "studio" {
		return studioDB
	}
	return simDB
}

// worldName shows a campaign's world (see outreach.Campaign.World).
func worldName(w string) string {
	if w == "" {
		return "-"
	}
	return w
}

// openStore opens the database of --db: a postgres:// or postgresql://
// URL opens PostgreSQL (see internal/storeopen), anything else is an
// SQLite file, created if needed.
func openStore(ctx context.Context, path string) (*storeopen.DB, error) {
	db, err := storeopen.Open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("open the database %s: %w", storeopen.Redact(path), err)
	}
	return db, nil
}

// openSimStore opens the database at path as openStore does, for the
// embedded runtime's simulated phones: its transactions commit with
// synchronous=NORMAL, one fsync per WAL checkpoint rather than one per
// transaction. A process crash still loses nothing; a power loss may roll
// back the last transactions, which, with no real provider to text
// twice, can only cost the simulation some progress. (The campaign time
// of a simulated run passes in a few transactions per event: with an
// fsync each, the disk, not the simulation, set its pace.)
// On PostgreSQL it is openStore.
func openSimStore(ctx context.Context, path string) (*storeopen.DB, error) {
	if storeopen.IsPostgres(path) {
		return openStore(ctx, path)
	}
	db, err := storeopen.OpenSQLite(ctx, path, sqlitestore.Options{Synchronous: "NORMAL"})
	if err != nil {
		return nil, fmt.Errorf("open the database %s: %w", path, err)
	}
	return db, nil
}

// openExisting opens a database that must already exist, rather than
// creating an empty SQLite file by mistake. A PostgreSQL database is
// opened as openStore does.
func openExisting(ctx context.Context, path string) (*storeopen.DB, error) {
	if !storeopen.IsPostgres(path) {
		if _, err := os.Stat(path); err != nil {
			return nil, usageErr("%s: no such database (run a campaign first, or pass --db)", path)
		}
	}
	return openStore(ctx, path)
}

// runtimeFlags are the flags that choose and configure a runtime.
type runtimeFlags struct {
	name, from, zone, window string
	poll                     time.Duration
}

func addRuntimeFlags(fs *flag.FlagSet, rf *runtimeFlags) {
	fs.StringVar(&rf.name, "runtime", "embedded", "runtime: "+strings.Join(runtimeNames, " or "))
	fs.StringVar(&rf.from, "from", "", "sending number (default: "+twilioenv.EnvPhoneNumber+" with the studio runtime, +15005550006 with the embedded runtime's simulated phones)")
	fs.StringVar(&rf.zone, "zone", "America/New_York", "time zone for recipients whose zone cannot be told")
	fs.StringVar(&rf.window, "window", "08:00-21:00", "local sending window, HH:MM-HH:MM (00:00-24:00: any hour)")
	fs.DurationVar(&rf.poll, "studio-poll", 30*time.Second, "studio runtime: how often each running execution is looked at")
}

// config returns the runtime configuration the flags and the environment
// give, over store. Twilio's settings are read only for the studio
// runtime, so that a broken Twilio environment does not stop a simulation.
func (rf *runtimeFlags) config(a *app, store outreach.Store, sim simConfig) (runtimeConfig, error) {
	cfg := runtimeConfig{
		Store: store, From: rf.from, DefaultZone: rf.zone, Sim: sim, StudioPoll: rf.poll,
		Logger: a.logger(),
	}
	w, err := outreach.ParseWindow(rf.window)
	if err != nil {
		return cfg, usageErr("--window: %v", err)
	}
	cfg.Window = w
	if rf.name == "embedded" {
		cfg.World = outreach.WorldSim
	}
	if rf.name == "studio" {
		tw, err := twilioenv.FromEnv(a.getenv)
		if err != nil {
			return cfg, usageErr("%v", err)
		}
		cfg.Twilio = tw
		cfg.World = outreach.TwilioWorld(tw.AccountSID)
		if cfg.From == "" {
			cfg.From = tw.PhoneNumber
		}
	}
	if cfg.From == "" && rf.name == "embedded" {
		cfg.From = "+15005550006"
	}
	if cfg.From != "" {
		p, err := outreach.NormalizePhone(cfg.From, "US")
		if err != nil {
			return cfg, usageErr("--from: %v", err)
		}
		cfg.From = p
	}
	return cfg, nil
}

// runtime builds the runtime the flags choose, over store.
func (rf *runtimeFlags) runtime(a *app, store outreach.Store, sim simConfig) (outreach.Runtime, error) {
	cfg, err := rf.config(a, store, sim)
	if err != nil {
		return nil, err
	}
	return newRuntime(rf.name, cfg)
}

// counts are the figures a progress report shows.
type counts struct {
	Completed int `json:"completed"`
	Total     int `json:"total"`
	Sent      int `json:"sent"`
	Replied   int `json:"replied"`
	OptedOut  int `json:"opted_out"`
	Failed    int `json:"failed"`
	Deferred  int `json:"deferred"`
}

func countsOf(p outreach.Progress) counts {
	return counts{
		Completed: p.Done, Total: p.Total,
		Sent: p.Messages[outreach.MessageSent], Replied: p.Replies,
		OptedOut: p.Outcomes[outreach.OutcomeOptedOut],
		Failed:   p.Outcomes[outreach.OutcomeFailed] + p.Outcomes[outreach.OutcomeDeliveryFailed],
		Deferred: p.Deferred,
	}
}

func (c counts) String() string {
	return fmt.Sprintf("completed %d/%d, sent %d, replied %d, opted out %d, failed %d, deferred %d",
		c.Completed, c.Total, c.Sent, c.Replied, c.OptedOut, c.Failed, c.Deferred)
}

// campaignStatus is one campaign in status's output.
type campaignStatus struct {
	ID        int64             `json:"id"`
	Name      string            `json:"name"`
	Flow      string            `json:"flow"`
	Status    string            `json:"status"`
	From      string            `json:"from"`
	World     string            `json:"world"`
	CreatedAt string            `json:"created_at"`
	Counts    counts            `json:"counts"`
	Progress  outreach.Progress `json:"progress"`
}

func cmdStatus(ctx context.Context, a *app, args []string) error {
	fs := newFlagSet(a, "status", "status [--campaign ID] [--db PATH]")
	dbPath := fs.String("db", "", dbUsage)
	id := fs.Int64("campaign", 0, "campaign id (default: every campaign)")
	var rf runtimeFlags
	addRuntimeFlags(fs, &rf)
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	if *dbPath == "" {
		*dbPath = defaultDB(rf.name)
	}
	store, err := openExisting(ctx, *dbPath)
	if err != nil {
		return err
	}
	defer store.Close()
	rt, err := rf.runtime(a, store, simConfig{})
	if err != nil {
		return err
	}
	var list []outreach.Campaign
	if *id != 0 {
		c, err := findCampaign(ctx, store, *id)
		if err != nil {
			return err
		}
		list = []outreach.Campaign{c}
	} else if list, err = store.Campaigns(ctx); err != nil {
		return err
	}
	out := make([]campaignStatus, 0, len(list))
	for _, c := range list {
		p, err := rt.Progress(ctx, c.ID)
		if err != nil {
			return fmt.Errorf("campaign %d: %w", c.ID, err)
		}
		out = append(out, campaignStatus{
			ID: c.ID, Name: c.Name, Flow: c.Flow.ID, Status: string(c.Status), From: c.From, World: c.World,
			CreatedAt: c.CreatedAt.UTC().Format("2006-01-02T15:04:05Z"), Counts: countsOf(p), Progress: p,
		})
	}
	if a.json {
		if *id != 0 {
			a.emit(out[0])
		} else {
			a.emit(map[string]any{"campaigns": out})
		}
		return nil
	}
	if len(out) == 0 {
		fmt.Fprintf(a.stdout, "%s has no campaign yet\n", *dbPath)
		return nil
	}
	for _, c := range out {
		fmt.Fprintf(a.stdout, "%4d  %-9s  %-10s  %-6s  %s  %s\n", c.ID, c.Status, c.Flow, worldName(c.World), c.Counts, c.Name)
		if *id != 0 {
			printOutcomes(a.stdout, c.Progress)
			if err := printAttention(ctx, a.stdout, store, c.ID, c.Progress); err != nil {
				return err
			}
		}
	}
	return nil
}

// printOutcomes lists a campaign's outcomes, by name.
func printOutcomes(w io.Writer, p outreach.Progress) {
	if len(p.Outcomes) == 0 {
		return
	}
	fmt.Fprintln(w, "outcomes:")
	keys := make([]string, 0, len(p.Outcomes))
	for k := range p.Outcomes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %-20s %d\n", k, p.Outcomes[k])
	}
}

// printAttention says what a person must read: conversations ended for
// review, and urgent replies nobody has acknowledged.
func printAttention(ctx context.Context, w io.Writer, store outreach.Store, id int64, p outreach.Progress) error {
	alerts, err := store.Alerts(ctx, id)
	if err != nil {
		return err
	}
	urgent := outreach.Unacknowledged(alerts)
	if n := p.Outcomes[outreach.OutcomeNeedsReview]; n > 0 {
		fmt.Fprintf(w, "needs review: %d conversation(s) whose reply a person must read (the export's review column says why)\n", n)
	}
	if urgent > 0 {
		fmt.Fprintf(w, "urgent: %d repl(ies) with urgent words, not acknowledged (the export's alert column lists the words)\n", urgent)
	}
	return nil
}

// findCampaign returns campaign id, or a usage error when there is none.
func findCampaign(ctx context.Context, store outreach.Store, id int64) (outreach.Campaign, error) {
	c, err := store.Campaign(ctx, id)
	if errors.Is(err, outreach.ErrNotFound) {
		return c, usageErr("no campaign %d in the database (see cli status)", id)
	}
	return c, err
}

func cmdExport(ctx context.Context, a *app, args []string) error {
	fs := newFlagSet(a, "export", "export --campaign ID [--db PATH] [--out FILE] [--format csv|fhir]")
	dbPath := fs.String("db", "", dbUsage)
	id := fs.Int64("campaign", 0, "campaign id (default: the newest)")
	out := fs.String("out", "-", "output file, - for standard output")
	format := fs.String("format", "csv", "csv: the responses CSV; fhir: a FHIR R4 QuestionnaireResponse per recipient, as NDJSON")
	actor := actorFlag(fs)
	var rf runtimeFlags
	addRuntimeFlags(fs, &rf)
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	if *format != "csv" && *format != "fhir" {
		return usageErr("--format is csv or fhir, not %q", *format)
	}
	if a.json && (*out == "" || *out == "-") {
		return usageErr("--json with export needs --out FILE: the CSV goes to the file, the summary to stdout")
	}
	if *dbPath == "" {
		*dbPath = defaultDB(rf.name)
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
			return usageErr("%s has no campaign", *dbPath)
		}
		*id = list[0].ID
	}
	camp, err := findCampaign(ctx, store, *id)
	if err != nil {
		return err
	}
	rt, err := rf.runtime(a, store, simConfig{})
	if err != nil {
		return err
	}
	w, closeOut, err := a.output(*out)
	if err != nil {
		return err
	}
	var n int
	if *format == "fhir" {
		n, err = fhirio.WriteResponses(ctx, w, csvio.RuntimeSource(store, rt), camp, fhirio.ResponseOptions{})
	} else {
		n, err = exportResponses(ctx, w, store, rt, *id)
	}
	if cerr := closeOut(); err == nil {
		err = cerr
	}
	a.audit(ctx, store, a.actor(*actor), outreach.ActionResponsesExported, resultOf(err), "campaign", fmt.Sprint(*id), fmt.Sprintf("rows=%d", n))
	if err != nil {
		return err
	}
	switch {
	case a.json:
		a.emit(map[string]any{"campaign": *id, "world": camp.World, "rows": n, "out": *out})
	case *out != "-":
		fmt.Fprintf(a.stderr, "wrote %d rows of campaign %d (world %s) to %s\n", n, *id, worldName(camp.World), *out)
	}
	return nil
}

// exportResponses writes a campaign's responses file (see
// csvio.ExportResponses), with the answers as the runtime reports them.
func exportResponses(ctx context.Context, w io.Writer, store outreach.Store, rt outreach.Runtime, id int64) (int, error) {
	return csvio.ExportResponses(ctx, w, csvio.RuntimeSource(store, rt), id)
}
