package sqlitestore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/sqlitestore"
)

// TestCampaignStatus checks that CampaignStatus reads what Campaign reads,
// through every change of status, and ErrNotFound for no campaign.
func TestCampaignStatus(t *testing.T) {
	ctx := context.Background()
	s, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := clocktest.Start(t)
	c, _, err := s.CreateCampaign(ctx, outreach.Campaign{Name: "st", From: "+15005550006", CreatedAt: now, UpdatedAt: now}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, to := range []outreach.CampaignStatus{"", outreach.CampaignRunning, outreach.CampaignPaused, outreach.CampaignCancelled} {
		if to != "" {
			if err := s.SetCampaignStatus(ctx, c.ID, to, now); err != nil {
				t.Fatal(err)
			}
		}
		full, err := s.Campaign(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if st, err := s.CampaignStatus(ctx, c.ID); err != nil || st != full.Status {
			t.Errorf("CampaignStatus = %q, %v; Campaign says %q", st, err, full.Status)
		}
	}
	if _, err := s.CampaignStatus(ctx, c.ID+1); !errors.Is(err, outreach.ErrNotFound) {
		t.Errorf("CampaignStatus of no campaign: %v, want ErrNotFound", err)
	}
}
