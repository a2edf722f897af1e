package memstore

import (
	"context"
	"fmt"

	"github.com/patient-outreach/sms/outreach"
)

// Append implements [outreach.AuditStore].
func (s *Store) Append(ctx context.Context, e outreach.AuditEntry) (outreach.AuditEntry, error) {
	e, err := outreach.CheckAuditEntry(e)
	if err != nil {
		return outreach.AuditEntry{}, fmt.Errorf("memstore: append audit entry: %w", err)
	}
	if err := s.lock(ctx); err != nil {
		return outreach.AuditEntry{}, err
	}
	defer s.mu.Unlock()
	e.ID = int64(len(s.audit) + 1)
	s.audit = append(s.audit, e)
	return e, nil
}

// Audit implements [outreach.AuditStore].
func (s *Store) Audit(ctx context.Context, f outreach.AuditFilter) ([]outreach.AuditEntry, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []outreach.AuditEntry
	for _, e := range s.audit {
		if f.Limit > 0 && len(out) >= f.Limit {
			break
		}
		if e.ID > f.AfterID && f.Match(e) {
			out = append(out, e)
		}
	}
	return out, nil
}
