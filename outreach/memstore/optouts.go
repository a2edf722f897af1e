package memstore

import (
	"context"
	"slices"

	"github.com/patient-outreach/sms/outreach"
)

// OptOuts implements [outreach.Store]. A limit of zero or less means no
// limit.
func (s *Store) OptOuts(ctx context.Context, after string, limit int) ([]outreach.OptOutRecord, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	phones := make([]string, 0, len(s.optOuts))
	for p := range s.optOuts {
		if p > after {
			phones = append(phones, p)
		}
	}
	slices.Sort(phones)
	if limit > 0 && len(phones) > limit {
		phones = phones[:limit]
	}
	out := make([]outreach.OptOutRecord, 0, len(phones))
	for _, p := range phones {
		o := s.optOuts[p]
		out = append(out, outreach.OptOutRecord{Phone: p, OptedOut: o.out, At: o.at, World: o.world})
	}
	return out, nil
}
