package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/memstore"
)

// TestPrintAttention: run and status say how many conversations wait
// for a person and how many urgent replies nobody acknowledged; nothing
// when there are none.
func TestPrintAttention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := memstore.New()
	at := clocktest.Start(t)
	for i, msg := range []int64{11, 12} {
		if _, _, err := store.AddAlert(ctx, outreach.Alert{CampaignID: 1, ConversationID: int64(i + 1), MessageID: msg, Terms: []string{"worse"}, At: at}); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.AckAlert(ctx, 1, "nurse", at); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := printAttention(ctx, &out, store, 1, outreach.Progress{Outcomes: map[string]int{outreach.OutcomeNeedsReview: 2}}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"needs review: 2 conversation(s)", "urgent: 1 repl(ies)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := printAttention(ctx, &out, store, 2, outreach.Progress{}); err != nil || out.Len() != 0 {
		t.Errorf("nothing to read: printed %q, %v", out.String(), err)
	}
}
