package memstore

import (
	"context"
	"fmt"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// ClaimNumber implements [outreach.Store].
func (s *Store) ClaimNumber(ctx context.Context, o outreach.NumberOwner) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if cur, ok := s.owners[o.Number]; ok {
		if cur.Runtime == o.Runtime && cur.Flow == o.Flow {
			return nil
		}
		return &outreach.NumberConflictError{Number: o.Number, Owner: cur, Wanted: o}
	}
	for _, conv := range s.convs {
		camp := s.campaigns[conv.c.CampaignID].c
		if conv.c.From == o.Number && conv.c.TwoWay && conv.c.Status != outreach.ConversationDone && camp.Runtime != o.Runtime {
			return &outreach.NumberConflictError{
				Number: o.Number, Owner: outreach.NumberOwner{Number: o.Number, Runtime: camp.Runtime}, Wanted: o,
				// By id: the name may hold PHI, and this error reaches logs.
				Reason: fmt.Sprintf("campaign %d of the %s runtime has unfinished two-way conversations from it", camp.ID, camp.Runtime),
			}
		}
	}
	if o.Since.IsZero() {
		o.Since = time.Now()
	}
	o.Since = utc(o.Since)
	s.owners[o.Number] = o
	return nil
}

// ReleaseNumber implements [outreach.Store].
func (s *Store) ReleaseNumber(ctx context.Context, number, runtime, flow string) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if cur, ok := s.owners[number]; ok && cur.Runtime == runtime && cur.Flow == flow {
		delete(s.owners, number)
	}
	return nil
}

// NumberOwner implements [outreach.Store].
func (s *Store) NumberOwner(ctx context.Context, number string) (outreach.NumberOwner, bool, error) {
	if err := s.lock(ctx); err != nil {
		return outreach.NumberOwner{}, false, err
	}
	defer s.mu.Unlock()
	o, ok := s.owners[number]
	return o, ok, nil
}
