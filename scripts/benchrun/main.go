// Command benchrun measures the library on generated inputs and prints
// each figure of the performance issue next to its target, in one run.
// scripts/bench.sh runs it (after installing libphonenumber-js for the
// side-by-side figure); run it alone with
//
//	go run ./scripts/benchrun -rows 1000000
//
// Each measurement runs in a child process of its own, so that its peak
// resident memory (getrusage's maxrss) is its own.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/patient-outreach/sms/csvio"
	"github.com/patient-outreach/sms/internal/benchdata"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/pgstore"
	"github.com/patient-outreach/sms/outreach/sqlitestore"
)

// result is what a stage reports: named figures.
type result map[string]float64

func main() {
	stage := flag.String("stage", "", "run one measurement (used by the parent run)")
	dir := flag.String("dir", "", "working folder (default: a new temporary one)")
	rows := flag.Int("rows", 1_000_000, "rows of the generated recipients file")
	exportRows := flag.Int("export-rows", 100_000, "conversations of the campaign exported")
	cliRows := flag.Int("cli-rows", 10_000, "rows of the file the CLI simulation runs")
	cliLimit := flag.Duration("cli-limit", 3*time.Minute, "longest the CLI simulation may run")
	cpuProfile := flag.String("cpuprofile", "", "with -stage: write the stage's CPU profile to this file")
	dispatchBench := flag.String("dispatch-benchtime", "5x", "-benchtime of BenchmarkDispatch (2,000 recipients, 4,000 messages an iteration), run for the table")
	raceSeconds := flag.Float64("race-seconds", 0, "how long README's race-detector test command took (scripts/bench.sh times it), to print with the rest")
	flag.Parse()
	if *stage != "" {
		if *cpuProfile != "" {
			f, err := os.Create(*cpuProfile)
			if err == nil {
				err = pprof.StartCPUProfile(f)
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "benchrun:", err)
				os.Exit(1)
			}
			defer pprof.StopCPUProfile()
		}
		res, err := runStage(*stage, *dir, *rows, *exportRows)
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchrun:", *stage+":", err)
			os.Exit(1)
		}
		_ = json.NewEncoder(os.Stdout).Encode(res)
		return // the profile is written by the deferred StopCPUProfile
	}
	o := options{rows: *rows, exportRows: *exportRows, cliRows: *cliRows, cliLimit: *cliLimit, dispatchBenchTime: *dispatchBench, raceSeconds: *raceSeconds}
	if err := parent(*dir, o); err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(1)
	}
}

// row is one line of the table printed.
type row struct{ what, got, target string }

// options are the parent run's flags.
type options struct {
	rows, exportRows, cliRows int
	cliLimit                  time.Duration
	dispatchBenchTime         string
	raceSeconds               float64
}

func parent(dir string, o options) error {
	rows, exportRows, cliRows := o.rows, o.exportRows, o.cliRows
	if dir == "" {
		d, err := os.MkdirTemp("", "benchrun-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	fmt.Printf("benchrun: %d rows, %d CPUs, Go %s, in %s\n", rows, runtime.NumCPU(), runtime.Version(), dir)
	if err := generate(dir, rows, cliRows); err != nil {
		return err
	}
	var table []row
	add := func(what, got, target string) {
		table = append(table, row{what, got, target})
		fmt.Printf("  %-58s %-44s target %s\n", what, got, target)
	}
	child := func(stage string) (result, float64, error) {
		return runChild(dir, stage, rows, exportRows)
	}

	n, _, err := child("normalize")
	if err != nil {
		return err
	}
	add("phone normalisation, outreach.NormalizePhone (one core)", fmt.Sprintf("%.0f numbers/s, %.1f allocs and %.0f B per number", n["rate"], n["allocs"], n["bytes"]), ">= 1,000,000 numbers/s")
	if js, err := nodeRate(dir); err != nil {
		add("same numbers, libphonenumber-js (Node)", "not run: "+err.Error(), "we are >= 10x it")
	} else {
		add("same numbers, libphonenumber-js (Node)", fmt.Sprintf("%.0f numbers/s: we are %.2fx it", js, n["rate"]/js), "we are >= 10x it")
	}
	s, rss, err := child("stream")
	if err != nil {
		return err
	}
	add("CSV decode + normalise + validate + dedupe (stream)", fmt.Sprintf("%.0f rows/s, %.0f allocs/row, peak RSS %s", s["rate"], s["allocs"], mb(rss)), ">= 1M rows/s, RSS < 50 MB")
	if _, rss, err = child("readall"); err != nil {
		add("csvio.ReadAll on the same file", "failed: "+err.Error(), "streaming API used by every caller")
	} else {
		add("csvio.ReadAll on the same file", "peak RSS "+mb(rss), "streaming API used by every caller")
	}
	cli, err := buildCLI(dir)
	if err != nil {
		return err
	}
	start := time.Now()
	out, err := exec.Command(cli, "validate", filepath.Join(dir, "recipients.csv")).CombinedOutput()
	add("CLI validate of the file", cliOutcome(out, err, time.Since(start)), "a million rows accepted, streamed")
	c, rss, err := child("create-sqlite")
	if err != nil {
		add("rows into a new campaign, SQLite", "failed: "+err.Error(), "< 5 s, RSS < 150 MB")
	} else {
		add("rows into a new campaign, SQLite", fmt.Sprintf("%.1f s (%.0f rows/s), peak RSS %s", c["seconds"], c["rate"], mb(rss)), "< 5 s, RSS < 150 MB")
	}
	if os.Getenv("OUTREACH_TEST_POSTGRES") != "" {
		c, rss, err := child("create-postgres")
		if err != nil {
			add("rows into a new campaign, Postgres", "failed: "+err.Error(), "< 10 s")
		} else {
			add("rows into a new campaign, Postgres", fmt.Sprintf("%.1f s (%.0f rows/s), peak RSS %s", c["seconds"], c["rate"], mb(rss)), "< 10 s")
		}
	}
	if e, rss, err := child("export"); err != nil {
		add("export of responses to CSV", "failed: "+err.Error(), ">= 500,000 rows/s, memory flat")
	} else {
		add(fmt.Sprintf("export of responses to CSV (%d conversations)", exportRows),
			fmt.Sprintf("%.0f rows/s the first time, %.0f again, peak RSS %s", e["rate"], e["again"], mb(rss)), ">= 500,000 rows/s, memory flat")
	}
	if w, rss, err := child("campaign"); err != nil {
		add("a whole campaign through the library", "failed: "+err.Error(), "dispatch >= 20k msg/s, inbound >= 10k/s, RSS < 200 MB")
	} else {
		add(fmt.Sprintf("a whole %d-conversation campaign through the library (null sender, answers via HandleInboundBatch)", rows),
			fmt.Sprintf("%.0f s in all; dispatch %.0f msg/s; inbound %.0f/s stored, %.0f/s stored and processed; peak RSS %s (%s with Progress read at the end, in %.1f s); database %s",
				w["total"], w["dispatch"], w["record"], w["inbound"], mb(w["hwm"]), mb(rss), w["progress"], mb(w["bytes"])),
			"dispatch >= 20k msg/s, inbound >= 10k/s, RSS < 200 MB")
	}
	for _, r := range goBenchmarks(o.dispatchBenchTime) {
		add(r.what, r.got, r.target)
	}
	add(fmt.Sprintf("CLI run (simulated phones and clock), %d rows", cliRows), cliRun(dir, cli, o.cliLimit), "100,000 recipients in < 60 s")
	if o.raceSeconds > 0 {
		add("go test -race ./... (README's command)", fmt.Sprintf("%.0f s", o.raceSeconds), "< 3 min, nothing skipped")
	}
	fmt.Println("\nwhat | measured | target\n--- | --- | ---")
	for _, r := range table {
		fmt.Printf("%s | %s | %s\n", r.what, r.got, r.target)
	}
	return nil
}

// generate writes recipients.csv (rows), phones.txt (its phones, one a
// line, for Node) and cli.csv (cliRows valid rows).
func generate(dir string, rows, cliRows int) error {
	f, err := os.Create(filepath.Join(dir, "recipients.csv"))
	if err != nil {
		return err
	}
	counts, err := benchdata.WriteRecipients(f, rows, benchdata.DefaultMix)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fmt.Printf("benchrun: recipients.csv: %+v\n", counts)
	p, err := os.Create(filepath.Join(dir, "phones.txt"))
	if err != nil {
		return err
	}
	w := bufio.NewWriter(p)
	for _, ph := range benchdata.Phones(rows, benchdata.DefaultMix) {
		w.WriteString(ph)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := p.Close(); err != nil {
		return err
	}
	c, err := os.Create(filepath.Join(dir, "cli.csv"))
	if err != nil {
		return err
	}
	_, err = benchdata.WriteRecipients(c, cliRows, benchdata.Mix{Seed: 2})
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	return err
}

// runChild runs stage in a child process and returns its figures and
// its peak resident memory in bytes.
func runChild(dir, stage string, rows, exportRows int) (result, float64, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, 0, err
	}
	cmd := exec.Command(self, "-stage", stage, "-dir", dir, "-rows", strconv.Itoa(rows), "-export-rows", strconv.Itoa(exportRows))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", stage, err)
	}
	var res result
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", stage, err)
	}
	rss := 0.0
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = float64(ru.Maxrss) * 1024 // kilobytes on Linux
	}
	return res, rss, nil
}

func runStage(stage, dir string, rows, exportRows int) (result, error) {
	ctx := context.Background()
	file := filepath.Join(dir, "recipients.csv")
	switch stage {
	case "normalize":
		phones := benchdata.Phones(rows, benchdata.DefaultMix)
		runtime.GOMAXPROCS(1)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := time.Now()
		for _, p := range phones {
			_, _ = outreach.NormalizePhone(p, "US")
		}
		d := time.Since(start)
		runtime.ReadMemStats(&after)
		return result{
			"rate":   float64(len(phones)) / d.Seconds(),
			"allocs": float64(after.Mallocs-before.Mallocs) / float64(len(phones)),
			"bytes":  float64(after.TotalAlloc-before.TotalAlloc) / float64(len(phones)),
		}, nil
	case "stream":
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		rr, err := csvio.NewRecipientReader(f, csvio.Options{MaxRows: -1, MaxBytes: -1})
		if err != nil {
			return nil, err
		}
		n := 0 // csvio finds the duplicates (Row.Errors)
		for {
			if _, err := rr.Next(); err == io.EOF {
				break
			} else if err != nil {
				return nil, err
			}
			n++
		}
		d := time.Since(start)
		runtime.ReadMemStats(&after)
		return result{"rate": float64(n) / d.Seconds(), "allocs": float64(after.Mallocs-before.Mallocs) / float64(n)}, nil
	case "readall":
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		res, err := csvio.ReadAll(ctx, f, csvio.Options{MaxRows: -1, MaxBytes: -1})
		return result{"rows": float64(res.Rows)}, err
	case "create-sqlite", "create-postgres":
		store, err := openStore(ctx, stage, dir)
		if err != nil {
			return nil, err
		}
		defer store.Close()
		start := time.Now()
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		// The pipeline the CLI runs: decode, validate and dedupe (csvio),
		// stored in batches as read (outreach.CreateCampaignFrom).
		rr, err := csvio.NewRecipientReader(f, csvio.Options{MaxRows: -1, MaxBytes: -1})
		if err != nil {
			return nil, err
		}
		r := outreach.NewRunner(store, nopSender{}, outreach.RunnerOptions{From: "+15005550006", Logger: quiet()})
		_, added, err := outreach.CreateCampaignFrom(ctx, r, outreach.NewCampaign{Name: "bench", Flow: benchFlow()}, csvio.Recipients(ctx, rr))
		if err != nil {
			return nil, err
		}
		d := time.Since(start)
		return result{"seconds": d.Seconds(), "rate": float64(rows) / d.Seconds(), "added": float64(added)}, nil
	case "export":
		return export(ctx, dir, exportRows)
	case "campaign":
		return wholeCampaign(ctx, dir, rows)
	}
	return nil, fmt.Errorf("unknown stage %q", stage)
}

// openStore opens the store of a create stage: a new SQLite file in dir,
// or a schema of its own in the Postgres database of
// OUTREACH_TEST_POSTGRES, dropped when the store is closed.
func openStore(ctx context.Context, stage, dir string) (outreach.Store, error) {
	if stage == "create-postgres" {
		s, err := pgstore.Open(ctx, os.Getenv("OUTREACH_TEST_POSTGRES"), pgstore.WithSchema(fmt.Sprintf("bench_%d", time.Now().UnixNano())))
		if err != nil {
			return nil, err
		}
		return droppedSchema{s}, nil
	}
	// A new database each time, as the Postgres stage's new schema.
	s, err := openNewSQLite(ctx, filepath.Join(dir, stage+".db"))
	if err != nil {
		return nil, err
	}
	return s, nil
}

// openNewSQLite opens a new SQLite database at path, removing the one an
// earlier run left there: a stage run again by hand must not add to the
// last run's campaign.
func openNewSQLite(ctx context.Context, path string) (*sqlitestore.Store, error) {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return sqlitestore.Open(ctx, path)
}

// drain runs r's ticks until nothing is due, and returns how long that
// took.
func drain(ctx context.Context, r *outreach.Runner) (time.Duration, error) {
	start := time.Now()
	for {
		k, err := r.Tick(ctx)
		if err != nil || k == 0 {
			return time.Since(start), err
		}
	}
}

// droppedSchema is a Postgres store whose schema Close drops.
type droppedSchema struct{ *pgstore.Store }

func (d droppedSchema) Close() error {
	_, err := d.Pool().Exec(context.Background(), `DROP SCHEMA `+pgx.Identifier{d.Schema()}.Sanitize()+` CASCADE`)
	return errors.Join(err, d.Store.Close())
}

// export builds a finished campaign of n conversations, each with one
// response, through the store's claim and commit, then times its export:
// the first (the store's read connections have nothing of it in their
// page caches, as in a command that opens the store to export) and the
// best of three more (as in a server that exported it before).
func export(ctx context.Context, dir string, n int) (result, error) {
	store, err := sqlitestore.Open(ctx, filepath.Join(dir, "export.db"))
	if err != nil {
		return nil, err
	}
	defer store.Close()
	clock := outreach.NewManualClock(time.Date(2026, 3, 2, 17, 0, 0, 0, time.UTC))
	r := outreach.NewRunner(store, nopSender{}, outreach.RunnerOptions{From: "+15005550006", Clock: clock, NoThrottle: true, Logger: quiet(), BatchSize: 500})
	recs := make([]outreach.Recipient, n)
	for i := range recs {
		recs[i] = outreach.Recipient{ID: fmt.Sprintf("P%07d", i), FirstName: "Pat", Phone: fmt.Sprintf("+1212%03d%04d", 200+i/10000, i%10000), TimeZone: "America/New_York"}
	}
	c, _, err := r.CreateCampaign(ctx, outreach.NewCampaign{Name: "export", Flow: benchFlow()}, recs)
	if err != nil {
		return nil, err
	}
	if err := r.StartCampaign(ctx, c.ID); err != nil {
		return nil, err
	}
	if _, err := drain(ctx, r); err != nil { // ask everyone
		return nil, err
	}
	for i, rec := range recs {
		in := outreach.InboundMessage{From: rec.Phone, To: "+15005550006", Body: "fine thanks", ProviderID: fmt.Sprintf("SMin%09d", i), ReceivedAt: clock.Now()}
		if _, err := r.HandleInbound(ctx, in); err != nil {
			return nil, err
		}
	}
	if _, err := drain(ctx, r); err != nil {
		return nil, err
	}
	var rowsOut int
	rate := func() (float64, error) {
		start := time.Now()
		rowsOut, err = csvio.ExportResponses(ctx, io.Discard, store, c.ID)
		return float64(rowsOut) / time.Since(start).Seconds(), err
	}
	first, err := rate()
	if err != nil {
		return nil, err
	}
	again := 0.0
	for range 3 {
		r, err := rate()
		if err != nil {
			return nil, err
		}
		again = max(again, r)
	}
	return result{"rate": first, "again": again, "rows": float64(rowsOut)}, nil
}

// wholeCampaign runs a campaign of n conversations through the library
// on a new SQLite database with the store's defaults (synchronous FULL):
// created from a stream of recipients, dispatched with throttling off to
// a sender that does nothing, then answered by every patient, the
// answers handled as the webhooks of both example programs do
// (Runner.HandleInboundBatch, 500 to a batch) and processed by the
// runner until every conversation is done. It reports the rates of each
// phase and the database's size; the parent reads the peak RSS.
func wholeCampaign(ctx context.Context, dir string, n int) (result, error) {
	path := filepath.Join(dir, "campaign.db")
	store, err := openNewSQLite(ctx, path)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	const from = "+15005550006"
	clock := outreach.NewManualClock(time.Date(2026, 3, 2, 17, 0, 0, 0, time.UTC))
	r := outreach.NewRunner(store, nopSender{}, outreach.RunnerOptions{From: from, Clock: clock, NoThrottle: true, Logger: quiet(), BatchSize: 500})
	phone := func(i int) string { return fmt.Sprintf("+1212%03d%04d", 200+i/10000, i%10000) }
	recs := func(yield func(outreach.Recipient, error) bool) {
		for i := range n {
			if !yield(outreach.Recipient{ID: fmt.Sprintf("P%07d", i), FirstName: "Pat", Phone: phone(i), TimeZone: "America/New_York"}, nil) {
				return
			}
		}
	}
	start := time.Now()
	c, added, err := outreach.CreateCampaignFrom(ctx, r, outreach.NewCampaign{Name: "whole", Flow: benchFlow()}, recs)
	if err != nil {
		return nil, err
	}
	if added != n {
		return nil, fmt.Errorf("created %d conversations of %d", added, n)
	}
	created := time.Since(start)
	if err := r.StartCampaign(ctx, c.ID); err != nil {
		return nil, err
	}
	before := sent
	dispatch, err := drain(ctx, r)
	if err != nil {
		return nil, err
	}
	if got := sent - before; got != int64(n) {
		return nil, fmt.Errorf("sent %d questions to %d conversations", got, n)
	}
	start = time.Now()
	batch := make([]outreach.InboundMessage, 0, 500)
	for i := range n {
		batch = append(batch, outreach.InboundMessage{From: phone(i), To: from, Body: "fine thanks", ProviderID: fmt.Sprintf("SMin%09d", i), ReceivedAt: clock.Now()})
		if len(batch) == cap(batch) || i == n-1 {
			if _, err := r.HandleInboundBatch(ctx, batch); err != nil {
				return nil, err
			}
			batch = batch[:0]
		}
	}
	record := time.Since(start)
	process, err := drain(ctx, r)
	if err != nil {
		return nil, err
	}
	if got, err := store.Campaign(ctx, c.ID); err != nil || got.Status != outreach.CampaignDone {
		return nil, fmt.Errorf("the campaign is %q after its last answer was processed (%v)", got.Status, err)
	}
	// The campaign's figures, read once it is over, as a status page
	// would: after the peak so far, since the count of its messages
	// grows with it (see README's performance notes).
	hwm := peakRSS()
	start = time.Now()
	p, err := r.Progress(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	progress := time.Since(start)
	if p.Done != n {
		return nil, fmt.Errorf("%d of %d conversations done", p.Done, n)
	}
	var size int64
	for _, suffix := range []string{"", "-wal"} {
		if fi, err := os.Stat(path + suffix); err == nil {
			size += fi.Size()
		}
	}
	return result{
		"create":   created.Seconds(),
		"dispatch": float64(n) / dispatch.Seconds(),
		"record":   float64(n) / record.Seconds(),
		"inbound":  float64(n) / (record + process).Seconds(),
		"total":    (created + dispatch + record + process).Seconds(),
		"bytes":    float64(size),
		"hwm":      hwm,
		"progress": progress.Seconds(),
	}, nil
}

// peakRSS returns the process's peak resident memory so far in bytes
// (VmHWM), or 0 where /proc does not give it.
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmHWM:" && f[2] == "kB" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb * 1024
		}
	}
	return 0
}

func benchFlow() *outreach.Flow {
	return &outreach.Flow{ID: "bench", NoOptOutFooter: true, Steps: []outreach.Step{
		{ID: "q", Kind: outreach.StepAsk, Body: "How are you?", Next: "end"},
		{ID: "end", Kind: outreach.StepEnd, Outcome: "answered"},
	}}
}

// nopSender accepts every message and does nothing.
type nopSender struct{}

var sent int64

func (nopSender) Send(context.Context, outreach.OutboundMessage) (string, error) {
	sent++
	return fmt.Sprintf("SM%032d", sent), nil
}

func (nopSender) Lookup(context.Context, outreach.OutboundMessage, time.Time) (string, bool, error) {
	return "", false, nil
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func buildCLI(dir string) (string, error) {
	bin := filepath.Join(dir, "outreach-cli")
	cmd := exec.Command("go", "build", "-o", bin, "./examples/cli")
	cmd.Stderr = os.Stderr
	return bin, cmd.Run()
}

// cliOutcome describes how the CLI's validate ended: its summary line
// ("N rows: V valid, E with errors, ...") when it read the whole file,
// else its last line (a refusal).
func cliOutcome(out []byte, err error, d time.Duration) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	for _, l := range lines {
		if strings.Contains(l, " rows: ") && strings.Contains(l, " valid") {
			return fmt.Sprintf("read in %.1f s: %s", d.Seconds(), l)
		}
	}
	if err == nil {
		return fmt.Sprintf("accepted in %.1f s", d.Seconds())
	}
	return fmt.Sprintf("refused after %.1f s: %.100s", d.Seconds(), lines[len(lines)-1])
}

// cliRun runs the CLI's simulation on cli.csv, at most limit.
func cliRun(dir, cli string, limit time.Duration) string {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, cli, "run", "--csv", filepath.Join(dir, "cli.csv"), "--db", filepath.Join(dir, "cli.db"), "--seed", "1", "--skip-bad-rows")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	d := time.Since(start)
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Sprintf("not finished after %v", limit)
	case err != nil:
		return fmt.Sprintf("failed after %.1f s: %.80s", d.Seconds(), strings.TrimSpace(string(out)))
	}
	return fmt.Sprintf("finished in %.1f s", d.Seconds())
}

// nodeRate normalises phones.txt with libphonenumber-js (found through
// NODE_PATH) and returns its numbers per second.
func nodeRate(dir string) (float64, error) {
	if _, err := exec.LookPath("node"); err != nil {
		return 0, errors.New("node is not installed")
	}
	script := filepath.Join(dir, "phones.js")
	const js = `const { parsePhoneNumberFromString } = require('libphonenumber-js/max');
const lines = require('fs').readFileSync(process.argv[2], 'utf8').split('\n');
lines.pop();
const start = process.hrtime.bigint();
let valid = 0;
for (const l of lines) {
  const p = parsePhoneNumberFromString(l, 'US');
  if (p && p.isValid()) { p.format('E.164'); valid++; }
}
const s = Number(process.hrtime.bigint() - start) / 1e9;
console.log(JSON.stringify({rate: lines.length / s, valid}));
`
	if err := os.WriteFile(script, []byte(js), 0o600); err != nil {
		return 0, err
	}
	out, err := exec.Command("node", script, filepath.Join(dir, "phones.txt")).Output()
	if err != nil {
		return 0, fmt.Errorf("libphonenumber-js: %w (is it installed, NODE_PATH set? scripts/bench.sh does it)", err)
	}
	var res result
	if err := json.Unmarshal(out, &res); err != nil {
		return 0, err
	}
	return res["rate"], nil
}

func mb(b float64) string { return fmt.Sprintf("%.0f MB", b/1e6) }
