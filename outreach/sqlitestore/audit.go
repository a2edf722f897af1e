package sqlitestore

import (
	"context"
	"strings"

	"github.com/patient-outreach/sms/outreach"
)

const auditCols = `id, at, actor, action, result, object_type, object_id, client, detail`

// Append implements [outreach.AuditStore]. The audit table has triggers
// that refuse UPDATE and DELETE (migration 0008), so entries stay as
// appended.
func (s *Store) Append(ctx context.Context, e outreach.AuditEntry) (outreach.AuditEntry, error) {
	e, err := outreach.CheckAuditEntry(e)
	if err != nil {
		return outreach.AuditEntry{}, wrap("append audit entry", err)
	}
	err = s.w.QueryRowContext(ctx, `INSERT INTO audit (at, actor, action, result, object_type, object_id, client, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		nanos(e.At), e.Actor, e.Action, e.Result, e.ObjectType, e.ObjectID, e.Client, e.Detail).Scan(&e.ID)
	if err != nil {
		return outreach.AuditEntry{}, wrap("append audit entry", err)
	}
	e.At = fromNanos(nanos(e.At))
	return e, nil
}

// Audit implements [outreach.AuditStore].
func (s *Store) Audit(ctx context.Context, f outreach.AuditFilter) ([]outreach.AuditEntry, error) {
	where := []string{"id > ?"}
	args := []any{f.AfterID}
	add := func(cond string, v any) {
		where = append(where, cond)
		args = append(args, v)
	}
	if !f.Since.IsZero() {
		add("at >= ?", nanos(f.Since))
	}
	if !f.Until.IsZero() {
		add("at < ?", nanos(f.Until))
	}
	for _, c := range []struct{ col, v string }{
		{"actor", f.Actor}, {"action", f.Action}, {"object_type", f.ObjectType}, {"object_id", f.ObjectID},
	} {
		if c.v != "" {
			add(c.col+" = ?", c.v)
		}
	}
	q := `SELECT ` + auditCols + ` FROM audit WHERE ` + strings.Join(where, " AND ") + ` ORDER BY id`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, wrap("audit", err)
	}
	es, err := scanAll(rows, scanAudit)
	return es, wrap("audit", err)
}

func scanAudit(sc scanner) (outreach.AuditEntry, error) {
	var (
		e  outreach.AuditEntry
		at int64
	)
	err := sc.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Result, &e.ObjectType, &e.ObjectID, &e.Client, &e.Detail)
	e.At = fromNanos(at)
	return e, err
}
