package pgstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/pgstore"
	"github.com/patient-outreach/sms/outreach/pgstore/pgtest"
)

// TestQueryPlans checks that the claim walks the due index in order
// rather than sorting every unfinished conversation, and that NextDue
// and ClaimNumber find their rows through indexes, on a campaign large enough (and
// analysed) for the planner to care.
func TestQueryPlans(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := pgtest.Open(t)
	now := clocktest.Start(t)
	const n = 20000
	convs := make([]outreach.Conversation, n)
	for i := range convs {
		convs[i] = outreach.Conversation{
			Recipient: outreach.Recipient{ID: fmt.Sprint("p", i), Phone: fmt.Sprintf("+1440%07d", i)},
			TwoWay:    true, NextAt: now.Add(time.Duration(i) * time.Second),
		}
	}
	if _, _, err := s.CreateCampaign(ctx, outreach.Campaign{Name: "plan", From: "+15005550006", Status: outreach.CampaignRunning, CreatedAt: now}, convs); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool().Exec(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	explain := func(q string, args ...any) string {
		t.Helper()
		rows, err := s.Pool().Query(ctx, "EXPLAIN "+q, args...)
		if err != nil {
			t.Fatalf("explain %s: %v", q, err)
		}
		defer rows.Close()
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, line)
		}
		return strings.Join(plan, "\n")
	}
	for _, q := range []struct {
		name, query, index string
		args               []any
	}{
		{"claim", pgstore.ClaimQuery, "conversations_due",
			[]any{"x-", now.Add(time.Minute), now.Add(time.Hour), 100, outreach.RuntimeEmbedded, ""}},
		{"next due", pgstore.NextDueFreeQuery, "conversations_due",
			[]any{now.Add(time.Hour), outreach.RuntimeEmbedded, ""}},
		{"next due, leased", pgstore.NextDueLeasedQuery, "conversations_leased",
			[]any{now.Add(time.Hour), outreach.RuntimeEmbedded, ""}},
		// A number none of the conversations is from: ClaimNumber must
		// not read the campaign's conversations to say so.
		{"claim number", pgstore.ClaimNumberBusyQuery, "conversations_unfinished",
			[]any{"+15005550007", "studio"}},
	} {
		plan := explain(q.query, q.args...)
		if !strings.Contains(plan, q.index) || strings.Contains(plan, "Seq Scan on conversations") {
			t.Errorf("the %s query does not find its rows through %s:\n%s", q.name, q.index, plan)
		}
	}
}
