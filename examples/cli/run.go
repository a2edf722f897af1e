package main

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/patient-outreach/sms/csvio"
	"github.com/patient-outreach/sms/flows"
	"github.com/patient-outreach/sms/internal/storeopen"
	"github.com/patient-outreach/sms/outreach"
)

// pollEvery is how often run reads the campaign's progress, at most.
const pollEvery = 200 * time.Millisecond

// pollShare is the largest share of the time that reading the progress
// may take: a read that took d is followed by a wait of at least
// d*pollShare. The read counts every conversation and message of the
// campaign, so on a large campaign a fixed pace of reads would take more
// of the machine than the campaign itself (a simulated one, whose pace
// the machine sets).
const pollShare = 20

func cmdRun(ctx context.Context, a *app, args []string) error {
	fs := newFlagSet(a, "run", "run --csv FILE | --fhir FILE [--flow NAME|FILE.json] [--db PATH] [--name NAME] [--runtime embedded|studio] [--require-consent] [flags]")
	flowName := fs.String("flow", "provider", "built-in flow ("+strings.Join(flows.BuiltinNames(), ", ")+") or a flow JSON file")
	csvPath := fs.String("csv", "", "recipients CSV (patient_id, patient_first_name, patient_phone)")
	fhirPath := fs.String("fhir", "", "recipients as FHIR R4 Patients: Bulk Data NDJSON or a Bundle (instead of --csv)")
	dbPath := fs.String("db", "", dbUsage)
	name := fs.String("name", "", "campaign name (default: FLOW-CSVNAME); running an unfinished campaign's name again resumes it")
	region := fs.String("region", "US", "country of numbers written without +")
	skipBad := fs.Bool("skip-bad-rows", false, "run with the valid rows when some rows have errors")
	consent := fs.Bool("require-consent", false, consentUsage+" (without needing --skip-bad-rows)")
	var rf runtimeFlags
	addRuntimeFlags(fs, &rf)
	seed := fs.Uint64("seed", 0, "embedded: seed of the simulated patients' behaviour (default random; reuse one only on a new database)")
	speed := fs.Float64("speed", 0, "embedded: campaign time runs this many times faster than real time (0: a simulated clock that jumps from event to event)")
	realtime := fs.Bool("realtime", false, "embedded: campaign time is real time (--speed 1)")
	step := fs.Duration("step", defaultSimStep, "embedded, simulated clock: handle replies, delivery reports and sends in steps of this much campaign time (0: each at its own instant, slower)")
	startAt := fs.String("start", "", "embedded: the campaign clock's time at start, RFC 3339 (default: now)")
	every := fs.Duration("every", 5*time.Second, "without a terminal: write a progress line this often (and at every tenth)")
	actor := actorFlag(fs)
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	switch {
	case *csvPath != "" && *fhirPath != "":
		return usageErr("--csv and --fhir: give one of them")
	case *fhirPath != "":
		*csvPath = *fhirPath
	case *csvPath == "":
		return usageErr("--csv is required (or --fhir)")
	}
	if *dbPath == "" {
		*dbPath = defaultDB(rf.name)
	}
	sim := simConfig{Seed: *seed, Speed: *speed, Step: *step}
	switch {
	case *speed < 0:
		return usageErr("--speed must not be negative")
	case *step < 0:
		return usageErr("--step must not be negative")
	case *realtime && *speed != 0 && *speed != 1:
		return usageErr("--realtime is --speed 1: give one of them")
	case *realtime:
		sim.Speed = 1
	}
	if *startAt != "" {
		t, err := time.Parse(time.RFC3339, *startAt)
		if err != nil {
			return usageErr("--start: %v (write it as 2026-03-10T09:00:00-05:00)", err)
		}
		sim.Start = t
	}
	if *every <= 0 {
		return usageErr("--every must be positive")
	}
	flow, err := loadFlow(*flowName)
	if err != nil {
		return err
	}
	if *name == "" {
		*name = flow.ID + "-" + strings.TrimSuffix(filepath.Base(*csvPath), filepath.Ext(*csvPath))
	}
	// The file is read twice, streamed: once for its problems, then for
	// its valid rows, stored in batches. Neither pass holds it in memory.
	file := recipientFile{path: *csvPath, opts: csvio.Options{DefaultRegion: *region, RequireConsent: *consent}, fhir: *fhirPath != ""}
	res, err := checkRecipients(ctx, file.path, file.opts, file.fhir)
	if err != nil {
		return err
	}
	valid := res.Rows - res.BadRows
	if len(res.Errors) > 0 || len(res.Warnings) > 0 {
		report(a.stderr, res)
	}
	// Rows without consent are skipped: --require-consent asked for it.
	if len(res.Errors) > 0 && !*skipBad && !onlyNoConsent(res) {
		return invalidErr("%d rows have errors: fix them, or pass --skip-bad-rows to run the %d valid ones", res.BadRows, valid)
	}
	if valid == 0 {
		return invalidErr("no valid recipient: nothing to send")
	}
	res = csvio.Result{} // the problems are reported: let them go

	var store *storeopen.DB
	if rf.name == "embedded" {
		store, err = openSimStore(ctx, *dbPath)
	} else {
		store, err = openStore(ctx, *dbPath)
	}
	if err != nil {
		return err
	}
	defer store.Close()
	cfg, err := rf.config(a, store, sim)
	if err != nil {
		return err
	}
	rt, err := newRuntime(rf.name, cfg)
	if err != nil {
		return err
	}

	camp, resumed, added, err := createOrResume(ctx, store, rt, cfg.World, *name, flow, cfg.From, file)
	a.auditRun(ctx, store, a.actor(*actor), camp, resumed, rt.Name(), added, err)
	if err != nil {
		if ctx.Err() != nil && camp.ID != 0 {
			hint := resumeHint(*flowName, *csvPath, *dbPath, *name, rf.name, *fhirPath != "")
			return fmt.Errorf("%w before campaign %d started, with %d recipients stored.\nRun the same command again to store the rest and start it:\n  %s", errInterrupted, camp.ID, added, hint)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w before the campaign started", errInterrupted)
		}
		return err
	}
	p, err := rt.Progress(ctx, camp.ID)
	if err != nil {
		return err
	}
	about := ""
	if s, ok := rt.(fmt.Stringer); ok {
		about = s.String()
	}
	if a.json {
		a.emit(map[string]any{
			"event": "start", "campaign": camp.ID, "name": camp.Name, "flow": camp.Flow.ID,
			"resumed": resumed, "recipients": p.Total, "from": camp.From, "runtime": rt.Name(), "world": camp.World,
			"db": storeopen.Redact(*dbPath), "counts": countsOf(p),
		})
	} else {
		if resumed {
			fmt.Fprintf(a.stdout, "resuming campaign %d (%s): flow %s, %d of %d conversations done\n", camp.ID, camp.Name, camp.Flow.ID, p.Done, p.Total)
			if p.Total != valid {
				fmt.Fprintf(a.stderr, "note: %s has %d valid rows; the campaign keeps the %d recipients it was created with (use another --name for a new campaign)\n", *csvPath, valid, p.Total)
			}
		} else {
			fmt.Fprintf(a.stdout, "campaign %d: flow %s, %d recipients, sending from %s (%s)\n", camp.ID, camp.Flow.ID, p.Total, camp.From, camp.Name)
		}
		fmt.Fprintf(a.stdout, "database %s, world %s\n", storeopen.Redact(*dbPath), worldName(camp.World))
		if about != "" {
			fmt.Fprintln(a.stdout, about)
		}
	}

	if w, ok := rt.(interface{ Wake() }); ok && store.Listen != nil {
		// PostgreSQL: work that other processes create (replies taken by
		// a web app on the same database) wakes the runtime at once.
		lctx, stopListen := context.WithCancel(ctx)
		var listening sync.WaitGroup
		listening.Go(func() {
			if err := store.Listen(lctx, w.Wake); err != nil && lctx.Err() == nil {
				fmt.Fprintf(a.stderr, "warning: database notifications stopped (the runtime still polls): %v\n", err)
			}
		})
		defer func() { stopListen(); listening.Wait() }()
	}

	rep := newReporter(a, camp.ID, *every)
	wall := time.Now()
	err = runUntilDone(ctx, rt, store, camp.ID, rep)
	// The context may be cancelled: read the last figures regardless.
	last, lctx := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer lctx()
	p, perr := rt.Progress(last, camp.ID)
	if errors.Is(err, errInterrupted) {
		hint := resumeHint(*flowName, *csvPath, *dbPath, *name, rf.name, *fhirPath != "")
		if perr == nil {
			rep.final(p)
		}
		if a.json {
			a.emit(map[string]any{"event": "interrupted", "campaign": camp.ID, "counts": countsOf(p), "resume": hint})
		}
		return fmt.Errorf("%w: campaign %d stopped with %d of %d conversations done; every message sent is recorded.\nRun the same command again to resume it:\n  %s", err, camp.ID, p.Done, p.Total, hint)
	}
	if err != nil {
		return err
	}
	if perr != nil {
		return perr
	}
	rep.final(p)
	c, err := store.Campaign(last, camp.ID)
	if err != nil {
		return err
	}
	took := time.Since(wall)
	if a.json {
		a.emit(map[string]any{
			"event": "done", "campaign": camp.ID, "name": camp.Name, "status": c.Status, "counts": countsOf(p),
			"progress": p, "elapsed_seconds": took.Seconds(), "campaign_seconds": c.UpdatedAt.Sub(c.CreatedAt).Seconds(),
		})
		return nil
	}
	fmt.Fprintf(a.stdout, "done: campaign %d %s, %d conversations; %s of campaign time in %s\n",
		camp.ID, c.Status, p.Total, c.UpdatedAt.Sub(c.CreatedAt).Round(time.Second), took.Round(time.Millisecond))
	fmt.Fprintf(a.stdout, "messages: %d sent, %d replies, %d failed\n", p.Messages[outreach.MessageSent], p.Replies, p.Messages[outreach.MessageFailed])
	printOutcomes(a.stdout, p)
	if err := printAttention(last, a.stdout, store, camp.ID, p); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "export the answers: cli export --db %s --campaign %d --out responses.csv\n", quote(*dbPath), camp.ID)
	return nil
}

// recipientFile is the recipients file of run: it is read once for its
// problems (checkRecipients), and again for its valid rows.
type recipientFile struct {
	path string
	opts csvio.Options
	fhir bool
}

// store calls save with the file's valid recipients, streamed.
func (f recipientFile) store(ctx context.Context, save func(iter.Seq2[outreach.Recipient, error]) error) error {
	return eachRecipientFile(ctx, f.path, f.opts, f.fhir, func(rr csvio.RowReader) error {
		return save(csvio.Recipients(ctx, rr))
	})
}

// createOrResume returns the unfinished campaign of world called name,
// started or resumed, or creates and starts it with the recipients of
// file, stored as they are read; added counts those it stored. Campaigns
// of other worlds are never resumed, whatever their names: another
// program made them. A draft is a campaign whose recipients were being
// stored when run stopped: the file's are stored again (those it has are
// skipped) before it starts.
func createOrResume(ctx context.Context, store outreach.Store, rt outreach.Runtime, world, name string, flow *outreach.Flow, from string, file recipientFile) (c outreach.Campaign, resumed bool, added int, err error) {
	list, err := store.Campaigns(ctx)
	if err != nil {
		return outreach.Campaign{}, false, 0, err
	}
	for _, old := range list { // newest first
		if old.Name != name || old.Status.Finished() || old.World != world {
			continue
		}
		if old.Flow.ID != flow.ID {
			return old, false, 0, usageErr("campaign %d, named %q, runs flow %s, not %s: pass another --name to start a new campaign", old.ID, name, old.Flow.ID, flow.ID)
		}
		switch old.Status {
		case outreach.CampaignDraft:
			err = file.store(ctx, func(seq iter.Seq2[outreach.Recipient, error]) error {
				added, err = outreach.AddRecipientsFrom(ctx, rt, old.ID, seq)
				return err
			})
			if err == nil {
				err = rt.StartCampaign(ctx, old.ID)
			}
		case outreach.CampaignPaused:
			err = rt.ResumeCampaign(ctx, old.ID)
		}
		return old, true, added, err
	}
	err = file.store(ctx, func(seq iter.Seq2[outreach.Recipient, error]) error {
		c, added, err = outreach.CreateCampaignFrom(ctx, rt, outreach.NewCampaign{Name: name, Flow: flow, From: from}, seq)
		return err
	})
	if err != nil {
		return c, false, added, err
	}
	return c, false, added, rt.StartCampaign(ctx, c.ID)
}

// runUntilDone runs rt until campaign id is finished, reporting progress,
// or until ctx is cancelled (errInterrupted). The runtime's Run goroutine
// is owned here: it has returned, its sends recorded, when this returns.
func runUntilDone(ctx context.Context, rt outreach.Runtime, store outreach.Store, id int64, rep *reporter) error {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- rt.Run(runCtx) }()
	stopped := false
	stop := func() error {
		cancel()
		if stopped {
			return nil
		}
		stopped = true
		if err := <-errc; err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%s runtime: %w", rt.Name(), err)
		}
		return nil
	}
	defer stop()

	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	var nextRead time.Time // when the progress may be read again
	for {
		select {
		case <-ctx.Done():
			rep.note("stopping: waiting for the messages being sent (Ctrl-C again to quit at once)")
			if err := stop(); err != nil {
				return err
			}
			return errInterrupted
		case err := <-errc:
			stopped = true
			if ctx.Err() != nil {
				return errInterrupted
			}
			if err == nil || errors.Is(err, context.Canceled) {
				err = errors.New("stopped before the campaign finished")
			}
			return fmt.Errorf("%s runtime: %w", rt.Name(), err)
		case <-tick.C:
		}
		c, err := store.Campaign(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				continue
			}
			return err
		}
		if c.Status.Finished() {
			return stop()
		}
		if time.Now().Before(nextRead) {
			continue
		}
		read := time.Now()
		p, err := rt.Progress(ctx, id)
		nextRead = read.Add(time.Since(read) * pollShare)
		if err != nil {
			if ctx.Err() != nil {
				continue
			}
			return err
		}
		rep.update(p)
	}
}

// loadFlow returns a built-in flow by name, or reads a flow file (a name
// ending in .json, or holding a path separator).
func loadFlow(name string) (*outreach.Flow, error) {
	if strings.HasSuffix(name, ".json") || strings.ContainsRune(name, filepath.Separator) || strings.Contains(name, "/") {
		f, err := flows.LoadFile(name)
		if err != nil && !errors.Is(err, outreach.ErrInvalidFlow) {
			return nil, usageErr("%v", err)
		}
		return f, err
	}
	f, err := flows.Builtin(name)
	if err != nil {
		return nil, usageErr("%v (or give a flow file ending in .json)", err)
	}
	return f, nil
}

// resumeHint is the command that resumes the campaign.
func resumeHint(flow, file, db, name, runtime string, asFHIR bool) string {
	source := "--csv"
	if asFHIR {
		source = "--fhir"
	}
	parts := []string{"cli", "run", "--flow", quote(flow), source, quote(file), "--db", quote(db), "--name", quote(name)}
	if runtime != "embedded" {
		parts = append(parts, "--runtime", runtime)
	}
	return strings.Join(parts, " ")
}

// quote quotes s for a shell when it needs it.
func quote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./+:=@", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
