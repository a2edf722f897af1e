package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/patient-outreach/sms/internal/storeopen"
	"github.com/patient-outreach/sms/outreach"
)

// purgeResult is purge's JSON document: ids and counts only.
type purgeResult struct {
	DB        string  `json:"db"`
	OlderThan string  `json:"older_than"`
	Cutoff    string  `json:"cutoff"`
	Campaigns []int64 `json:"campaigns"`
	Messages  int     `json:"messages"`
	Responses int     `json:"responses"`
	Unmatched int     `json:"unmatched"`
}

// cmdPurge deletes the message texts and replies of the campaigns that
// finished more than --older-than ago (outreach.Retention.PurgeOnce, as
// the web app's RETENTION_DAYS does every hour).
func cmdPurge(ctx context.Context, a *app, args []string) error {
	fs := newFlagSet(a, "purge", "purge --db FILE --older-than AGE")
	dbPath := fs.String("db", "", "SQLite database file or postgres:// URL (required: the web app's is "+studioDB+")")
	olderThan := fs.String("older-than", "", "how long ago a campaign must have finished: days (90d) or a Go duration (36h)")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	if *dbPath == "" {
		return usageErr("purge needs --db FILE: the database whose finished campaigns lose their texts")
	}
	age, err := parseAge(*olderThan)
	if err != nil {
		return err
	}
	store, err := openExisting(ctx, *dbPath)
	if err != nil {
		return err
	}
	defer store.Close()
	// One instant for the whole purge, so that the cutoff printed is
	// the one used.
	now := outreach.SystemClock{}.Now()
	ret := &outreach.Retention{Store: store, Period: age, Clock: outreach.NewManualClock(now), Logger: a.logger()}
	cutoff := now.Add(-age).UTC()
	res, err := ret.PurgeOnce(ctx)
	if err != nil {
		return err
	}
	out := purgeResult{DB: storeopen.Redact(*dbPath), OlderThan: *olderThan, Cutoff: cutoff.Format(time.RFC3339),
		Campaigns: res.Campaigns, Messages: res.Messages, Responses: res.Responses, Unmatched: res.Unmatched}
	if out.Campaigns == nil {
		out.Campaigns = []int64{}
	}
	if a.json {
		a.emit(out)
		return nil
	}
	fmt.Fprintf(a.stdout, "purged %d campaign(s) finished before %s: %d message text(s), %d repl(ies); %d unmatched message(s)\n",
		len(res.Campaigns), out.Cutoff, res.Messages, res.Responses, res.Unmatched)
	if len(res.Campaigns) > 0 {
		ids := make([]string, len(res.Campaigns))
		for i, id := range res.Campaigns {
			ids[i] = strconv.FormatInt(id, 10)
		}
		fmt.Fprintf(a.stdout, "campaigns: %s\n", strings.Join(ids, ", "))
	}
	return nil
}

// parseAge reads --older-than: whole days ("90d") or a Go duration
// ("36h"), more than zero.
func parseAge(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, usageErr("purge needs --older-than AGE, such as 90d (days) or 36h")
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n > 100*366 {
			return 0, usageErr("--older-than %q: want whole days such as 90d, or a Go duration such as 36h", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, usageErr("--older-than %q: want whole days such as 90d, or a Go duration such as 36h", s)
		}
	}
	if d <= 0 {
		return 0, usageErr("--older-than %q must be more than zero", s)
	}
	return d, nil
}
