package memstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// AddAlert implements [outreach.Store].
func (s *Store) AddAlert(ctx context.Context, a outreach.Alert) (outreach.Alert, bool, error) {
	if err := s.lock(ctx); err != nil {
		return outreach.Alert{}, false, err
	}
	defer s.mu.Unlock()
	for _, old := range s.alerts {
		if old.MessageID == a.MessageID {
			return cloneAlert(old), false, nil
		}
	}
	a.ID = int64(len(s.alerts) + 1)
	a.Terms = slices.Clone(a.Terms)
	a.At, a.RetryAt, a.NotifiedAt, a.AckedAt = utc(a.At), utc(a.RetryAt), utc(a.NotifiedAt), utc(a.AckedAt)
	s.alerts = append(s.alerts, a)
	return cloneAlert(a), true, nil
}

// Alerts implements [outreach.Store].
func (s *Store) Alerts(ctx context.Context, campaignID int64) ([]outreach.Alert, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []outreach.Alert
	for _, a := range s.alerts {
		if a.CampaignID == campaignID {
			out = append(out, cloneAlert(a))
		}
	}
	return out, nil
}

// ClaimAlerts implements [outreach.Store].
func (s *Store) ClaimAlerts(ctx context.Context, world string, now time.Time, limit int, hold time.Duration) ([]outreach.Alert, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []outreach.Alert
	for i := range s.alerts {
		a := &s.alerts[i]
		if len(out) >= limit {
			break
		}
		if a.World != world || !a.NotifiedAt.IsZero() || a.RetryAt.After(now) {
			continue
		}
		a.Tries++
		a.RetryAt = utc(now.Add(hold))
		out = append(out, cloneAlert(*a))
	}
	return out, nil
}

// AlertNotified implements [outreach.Store].
func (s *Store) AlertNotified(ctx context.Context, id int64, at time.Time) error {
	return s.changeAlert(ctx, id, func(a *outreach.Alert) {
		if a.NotifiedAt.IsZero() {
			a.NotifiedAt = utc(at)
		}
	})
}

// AckAlert implements [outreach.Store].
func (s *Store) AckAlert(ctx context.Context, id int64, by string, at time.Time) error {
	return s.changeAlert(ctx, id, func(a *outreach.Alert) {
		if a.AckedAt.IsZero() {
			a.AckedAt, a.AckedBy = utc(at), by
		}
	})
}

func (s *Store) changeAlert(ctx context.Context, id int64, change func(*outreach.Alert)) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if id < 1 || id > int64(len(s.alerts)) {
		return fmt.Errorf("memstore: alert %d: %w", id, outreach.ErrNotFound)
	}
	change(&s.alerts[id-1])
	return nil
}

func cloneAlert(a outreach.Alert) outreach.Alert {
	a.Terms = slices.Clone(a.Terms)
	return a
}
