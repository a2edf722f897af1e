package pgstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/patient-outreach/sms/outreach"
)

const auditCols = `id, at, actor, action, result, object_type, object_id, client, detail`

// Append implements [outreach.AuditStore]. The audit table has triggers
// that refuse UPDATE, DELETE and TRUNCATE (migration 0002), so entries
// stay as appended. At is kept to the microsecond, and the entry returned
// has it as stored.
func (s *Store) Append(ctx context.Context, e outreach.AuditEntry) (outreach.AuditEntry, error) {
	e, err := outreach.CheckAuditEntry(e)
	if err != nil {
		return outreach.AuditEntry{}, wrap("append audit entry", err)
	}
	err = s.pool.QueryRow(ctx, `INSERT INTO audit (at, actor, action, result, object_type, object_id, client, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		ts(e.At), e.Actor, e.Action, e.Result, e.ObjectType, e.ObjectID, e.Client, e.Detail).Scan(&e.ID)
	if err != nil {
		return outreach.AuditEntry{}, wrap("append audit entry", err)
	}
	e.At = micro(e.At)
	return e, nil
}

// Audit implements [outreach.AuditStore].
func (s *Store) Audit(ctx context.Context, f outreach.AuditFilter) ([]outreach.AuditEntry, error) {
	where := []string{"id > $1"}
	args := []any{f.AfterID}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if !f.Since.IsZero() {
		add("at >= $%d", ts(f.Since))
	}
	if !f.Until.IsZero() {
		add("at < $%d", ts(f.Until))
	}
	for _, c := range []struct{ col, v string }{
		{"actor", f.Actor}, {"action", f.Action}, {"object_type", f.ObjectType}, {"object_id", f.ObjectID},
	} {
		if c.v != "" {
			add(c.col+" = $%d", c.v)
		}
	}
	q := `SELECT ` + auditCols + ` FROM audit WHERE ` + strings.Join(where, " AND ") + ` ORDER BY id`
	if f.Limit > 0 {
		args = append(args, f.Limit)
		q += fmt.Sprintf(` LIMIT $%d`, len(args))
	}
	rows, err := s.pool.Query(ctx, q, args...)
	es, err := scanAll(rows, err, func(sc scanner) (outreach.AuditEntry, error) {
		var e outreach.AuditEntry
		err := sc.Scan(&e.ID, tp(&e.At), &e.Actor, &e.Action, &e.Result, &e.ObjectType, &e.ObjectID, &e.Client, &e.Detail)
		return e, err
	})
	return es, wrap("audit", err)
}
