package main

import (
	"testing"

	"github.com/patient-outreach/sms/outreach"
)

// Conversations that ended at a part of the flow the runtime cannot run
// are counted apart, not as completed.
func TestCountersUnsupported(t *testing.T) {
	t.Parallel()
	p := outreach.Progress{Total: 6, Done: 6, Outcomes: map[string]int{
		outreach.OutcomeCompleted:                   2,
		outreach.OutcomeNeedsReview:                 1,
		outreach.OutcomeOptedOut:                    1,
		outreach.UnsupportedOutcome("send-to-flex"): 1,
		outreach.UnsupportedOutcome("run-function"): 1,
	}}
	c := countersOf(outreach.CampaignDone, p, campaignSchedule{})
	if c.Unsupported != 2 || c.Completed != 3 || c.OptedOut != 1 || c.NeedsReview != 1 {
		t.Errorf("unsupported %d, completed %d, opted out %d, needs review %d; want 2, 3, 1, 1",
			c.Unsupported, c.Completed, c.OptedOut, c.NeedsReview)
	}
	if len(c.Outcomes) != 5 {
		t.Errorf("outcomes %v: want each of the 5 listed", c.Outcomes)
	}
}
