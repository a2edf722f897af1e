package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/patient-outreach/sms/csvio"
	"github.com/patient-outreach/sms/internal/storeopen"
	"github.com/patient-outreach/sms/internal/twilioenv"
	"github.com/patient-outreach/sms/outreach"
)

// optOutsUsage is the help of the optouts commands.
const optOutsUsage = `usage: cli optouts <command> [flags]

commands:
  export [--db PATH] [--out FILE]         every phone's latest opt-out or opt-in as CSV
                                          (phone,opted_out,changed_at), for a CRM
  import [--db PATH] [--region CC] FILE   a CRM's opt-outs: a phone (or patient_phone) column,
                                          optional opted_out (yes/no) and changed_at (RFC 3339)

Opt-outs are per phone number, across every campaign and world; the
database is the web app's, ` + studioDB + `, unless --db says otherwise. A row
is recorded at its changed_at (rows without one: now), so an older CRM
entry never undoes a newer STOP or START; a row that opts back in needs
its changed_at. import records every good row and lists the bad ones by
line (exit 1).
`

func cmdOptOuts(ctx context.Context, a *app, args []string) error {
	return dispatch(ctx, a, args, "optouts", optOutsUsage, []string{"export", "import"},
		map[string]command{"export": cmdOptOutsExport, "import": cmdOptOutsImport})
}

// optOutsDBUsage is the help of the optouts commands' --db.
const optOutsDBUsage = "SQLite database file or postgres:// URL (default " + studioDB + ", the web app's)"

func cmdOptOutsExport(ctx context.Context, a *app, args []string) error {
	fs := newFlagSet(a, "optouts export", "optouts export [--db PATH] [--out FILE]")
	dbPath := fs.String("db", studioDB, optOutsDBUsage)
	out := fs.String("out", "-", "output file, - for standard output")
	actor := actorFlag(fs)
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	if a.json && (*out == "" || *out == "-") {
		return usageErr("--json with optouts export needs --out FILE: the CSV goes to the file, the summary to stdout")
	}
	store, err := openExisting(ctx, *dbPath)
	if err != nil {
		return err
	}
	defer store.Close()
	w, closeOut, err := a.output(*out)
	if err != nil {
		return err
	}
	if *out == "" || *out == "-" {
		a.wrote = true
	}
	n, err := csvio.ExportOptOuts(ctx, w, store)
	if cerr := closeOut(); err == nil {
		err = cerr
	}
	a.audit(ctx, store, a.actor(*actor), outreach.ActionOptOutsExported, resultOf(err), "", "", fmt.Sprintf("rows=%d", n))
	if err != nil {
		return err
	}
	switch {
	case a.json:
		a.emit(map[string]any{"db": storeopen.Redact(*dbPath), "rows": n, "out": *out})
	case *out != "-" && *out != "":
		fmt.Fprintf(a.stderr, "wrote %d opt-outs of %s to %s\n", n, storeopen.Redact(*dbPath), *out)
	}
	return nil
}

// optOutsImport is optouts import's JSON document.
type optOutsImport struct {
	File     string       `json:"file"`
	DB       string       `json:"db"`
	Rows     int          `json:"rows"`
	Recorded int          `json:"recorded"`
	BadRows  int          `json:"bad_rows"`
	Errors   []rowProblem `json:"errors"`
}

func cmdOptOutsImport(ctx context.Context, a *app, args []string) error {
	fs := newFlagSet(a, "optouts import", "optouts import [--db PATH] [--region CC] FILE.csv")
	dbPath := fs.String("db", studioDB, optOutsDBUsage)
	region := fs.String("region", "US", "country of numbers written without +")
	actor := actorFlag(fs)
	ops, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	path := ops[0]
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return usageErr("%s: no such file", path)
		}
		return err
	}
	file, err := csvio.ReadOptOuts(f, csvio.Options{DefaultRegion: *region})
	f.Close()
	if err != nil {
		var he *csvio.HeaderError
		var le *csvio.LimitError
		if errors.As(err, &he) || errors.As(err, &le) {
			return invalidErr("%s: %v", path, err)
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	// The web app's database: created if this is its first use, as the
	// web app would.
	store, err := openStore(ctx, *dbPath)
	if err != nil {
		return err
	}
	defer store.Close()
	// The changes belong to the web app's world: its Twilio account's when
	// the environment names one, else dev mode's (whose opt-ins cannot
	// lift a real account's opt-outs).
	world := outreach.WorldDev
	if tw, err := twilioenv.FromEnv(a.getenv); err == nil {
		world = outreach.TwilioWorld(tw.AccountSID)
	}
	n, refused, err := csvio.ImportOptOuts(ctx, store, world, file.OptOuts, outreach.SystemClock{}.Now())
	a.audit(ctx, store, a.actor(*actor), outreach.ActionOptOutsImported, resultOf(err), "", "",
		fmt.Sprintf("rows=%d recorded=%d refused=%d", file.Rows, n, file.BadRows+len(refused)))
	if err != nil {
		return err
	}
	errs := slices.SortedStableFunc(slices.Values(append(file.Errors, refused...)), func(x, y *csvio.RowError) int { return x.Line - y.Line })
	bad := file.BadRows + len(refused)
	if a.json {
		a.emit(optOutsImport{File: path, DB: storeopen.Redact(*dbPath), Rows: file.Rows, Recorded: n, BadRows: bad, Errors: rowProblems(errs)})
	} else {
		for _, e := range errs {
			fmt.Fprintf(a.stdout, "error:   %v\n", e)
		}
		fmt.Fprintf(a.stdout, "%d rows: %d recorded in %s, %d with errors\n", file.Rows, n, storeopen.Redact(*dbPath), bad)
	}
	if bad > 0 {
		return invalidErr("%d of %d rows have errors (the others were recorded)", bad, file.Rows)
	}
	return nil
}
