package main

import (
	"context"
	"encoding/csv"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/sqlitestore"
)

// TestRetentionPurgesFinishedCampaign: with RETENTION_DAYS=1 in dev mode,
// a campaign runs to its end; once more than a day has passed since (a
// Retention on a manual clock, over the same database, as the app's own
// runs every hour), the campaign page says when its texts were deleted
// and the responses CSV has no raw replies but keeps the answers and
// outcome.
func TestRetentionPurgesFinishedCampaign(t *testing.T) {
	t.Parallel()
	ta := startApp(t, func(cfg *config) { cfg.RetentionDays = 1 })
	c := ta.client(t)
	c.login(ta)
	page := startCampaign(t, c, "Retention check-in", csvOf("patient_id,patient_first_name,patient_phone", "K-1,Ann,(440) 555-0142"))
	waitQuestion(t, c)
	reply(t, c, "it's a 3")
	waitUntil(t, func() bool {
		_, body := c.get("/simulator")
		return strings.Contains(body, "specialist") || strings.Count(body, "?") >= 2
	})
	waitQuestion(t, c)
	reply(t, c, "Yes, thank you")
	var body string
	waitUntil(t, func() bool {
		_, body = c.get(page)
		return strings.Contains(body, ">done<")
	})
	if strings.Contains(body, `id="purged"`) {
		t.Fatal("the page says the texts were deleted before the purge")
	}
	responses := func() [][]string {
		t.Helper()
		resp, b := c.get(page + "/responses.csv")
		mustStatus(t, "export", resp, b, http.StatusOK)
		rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(b, "\ufeff"))).ReadAll()
		if err != nil || len(rows) != 3 {
			t.Fatalf("responses %q, %v; want a header and two rows", rows, err)
		}
		return rows
	}
	before := responses()
	if before[1][5] != "it's a 3" || before[1][4] != "3" {
		t.Fatalf("responses before the purge %q", before)
	}

	ctx := context.Background()
	store, err := sqlitestore.Open(ctx, ta.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	clock := clocktest.Manual(t) // where the dev clock started
	clock.Advance(49 * time.Hour)
	ret := &outreach.Retention{Store: store, Period: 24 * time.Hour, Clock: clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	res, err := ret.PurgeOnce(ctx)
	if err != nil || len(res.Campaigns) != 1 || res.Responses != 2 {
		t.Fatalf("PurgeOnce = %+v, %v; want one campaign and its two replies", res, err)
	}

	_, body = c.get(page)
	if !strings.Contains(body, `id="purged"`) || !strings.Contains(body, "Message texts and replies were deleted on") ||
		!strings.Contains(body, "(retention: 1 days)") || !strings.Contains(body, ">done<") {
		t.Errorf("the campaign page after the purge lacks the deletion notice:\n%s", body)
	}
	after := responses()
	for i := 1; i < len(after); i++ {
		if after[i][5] != "" {
			t.Errorf("row %d kept its raw reply %q", i, after[i][5])
		}
		want := before[i]
		want[5] = ""
		if strings.Join(after[i], ",") != strings.Join(want, ",") {
			t.Errorf("row %d after the purge %q; want %q", i, after[i], want)
		}
	}
}
