package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/patient-outreach/sms/csvio"
	"github.com/patient-outreach/sms/internal/storeopen"
	"github.com/patient-outreach/sms/outreach"
)

// The audit trail: the commands that change things (run, optouts import,
// and the exports of responses and opt-outs) append an entry with the
// user from --actor or $USER and client "cli"; audit lists the trail.

// auditClient is the Client of the CLI's audit entries.
const auditClient = "cli"

// actorFlag adds --actor to fs.
func actorFlag(fs *flag.FlagSet) *string {
	return fs.String("actor", "", "user name recorded in the audit trail (default $USER)")
}

// actor is the user the audit trail records: --actor, else $USER, else
// "unknown".
func (a *app) actor(flagValue string) string {
	for _, s := range []string{flagValue, a.getenv("USER")} {
		if s != "" {
			return s
		}
	}
	return "unknown"
}

// audit appends an entry to store's audit trail. A failure is reported on
// stderr (ids only) and does not fail the command: what it did is done.
func (a *app) audit(ctx context.Context, store outreach.AuditStore, actor, action, result, objectType, objectID, detail string) {
	e := outreach.AuditEntry{At: outreach.SystemClock{}.Now(), Actor: actor, Action: action, Result: result,
		ObjectType: objectType, ObjectID: objectID, Client: auditClient, Detail: detail}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := store.Append(ctx, e); err != nil {
		fmt.Fprintf(a.stderr, "cli: warning: audit entry %s of %s %s not recorded: %v\n", action, objectType, objectID, err)
	}
}

// resultOf is the audit result of an action that returned err.
func resultOf(err error) string {
	if err != nil {
		return outreach.ResultFailed
	}
	return outreach.ResultOK
}

// auditRun records what createOrResume did: a campaign created and
// started, or resumed. A usage error changed nothing: nothing is
// recorded.
func (a *app) auditRun(ctx context.Context, store outreach.AuditStore, actor string, c outreach.Campaign, resumed bool, runtime string, recipients int, err error) {
	if errors.Is(err, errUsage) {
		return
	}
	id := ""
	if c.ID != 0 {
		id = strconv.FormatInt(c.ID, 10)
	}
	switch {
	case resumed:
		a.audit(ctx, store, actor, outreach.ActionCampaignResumed, resultOf(err), "campaign", id, "runtime="+runtime)
	case c.ID == 0:
		a.audit(ctx, store, actor, outreach.ActionCampaignCreated, resultOf(err), "campaign", id, "runtime="+runtime)
	default:
		a.audit(ctx, store, actor, outreach.ActionCampaignCreated, outreach.ResultOK, "campaign", id, fmt.Sprintf("runtime=%s recipients=%d", runtime, recipients))
		a.audit(ctx, store, actor, outreach.ActionCampaignStarted, resultOf(err), "campaign", id, "")
	}
}

func cmdAudit(ctx context.Context, a *app, args []string) error {
	fs := newFlagSet(a, "audit", "audit [--db PATH] [--since RFC3339] [--until RFC3339] [--actor NAME] [--action A] [--object TYPE[:ID]] [--csv FILE|-] [--json]")
	dbPath := fs.String("db", studioDB, "SQLite database file or postgres:// URL (default "+studioDB+", the web app's)")
	since := fs.String("since", "", "only entries at or after this time, RFC 3339")
	until := fs.String("until", "", "only entries before this time, RFC 3339")
	actor := fs.String("actor", "", "only this user's entries")
	action := fs.String("action", "", "only this action, such as campaign.started")
	object := fs.String("object", "", "only entries about this object: a type (campaign) or type:id (campaign:12)")
	csvOut := fs.String("csv", "", "write the entries as CSV to FILE (- for standard output)")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	if a.json && *csvOut == "-" {
		return usageErr("--json with --csv - would mix JSON and CSV on stdout: give --csv FILE")
	}
	f := outreach.AuditFilter{Actor: *actor, Action: *action}
	f.ObjectType, f.ObjectID, _ = strings.Cut(*object, ":")
	for _, t := range []struct {
		name, v string
		to      *time.Time
	}{{"since", *since, &f.Since}, {"until", *until, &f.Until}} {
		if t.v == "" {
			continue
		}
		v, err := time.Parse(time.RFC3339, t.v)
		if err != nil {
			return usageErr("--%s: %v (write it as 2026-03-10T09:00:00-05:00)", t.name, err)
		}
		*t.to = v
	}
	store, err := openExisting(ctx, *dbPath)
	if err != nil {
		return err
	}
	defer store.Close()

	if *csvOut != "" {
		w, closeOut, err := a.output(*csvOut)
		if err != nil {
			return err
		}
		if *csvOut == "-" {
			a.wrote = true
		}
		n, err := csvio.ExportAudit(ctx, w, store, f)
		if cerr := closeOut(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		switch {
		case a.json:
			a.emit(map[string]any{"db": storeopen.Redact(*dbPath), "rows": n, "out": *csvOut})
		case *csvOut != "-":
			fmt.Fprintf(a.stderr, "wrote %d audit entries of %s to %s\n", n, *dbPath, *csvOut)
		}
		return nil
	}
	es, err := store.Audit(ctx, f)
	if err != nil {
		return err
	}
	if a.json {
		if es == nil {
			es = []outreach.AuditEntry{}
		}
		a.emit(map[string]any{"db": storeopen.Redact(*dbPath), "entries": es})
		return nil
	}
	if len(es) == 0 {
		fmt.Fprintln(a.stdout, "no audit entry matches")
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tAT (UTC)\tUSER\tACTION\tRESULT\tOBJECT\tCLIENT\tDETAIL")
	for _, e := range es {
		obj := e.ObjectType
		if e.ObjectID != "" {
			obj += ":" + e.ObjectID
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.At.UTC().Format(time.RFC3339), e.Actor, e.Action, e.Result, obj, e.Client, e.Detail)
	}
	return tw.Flush()
}
