package csvio

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"

	"github.com/patient-outreach/sms/outreach"
)

// auditHeader is the header row ExportAudit writes.
var auditHeader = []string{"id", "at", "actor", "action", "result", "object_type", "object_id", "client", "detail"}

// exportAuditPage is how many audit entries ExportAudit reads at a time.
const exportAuditPage = 1000

// AuditSource is what [ExportAudit] reads: any [outreach.Store] has it.
type AuditSource interface {
	Audit(ctx context.Context, f outreach.AuditFilter) ([]outreach.AuditEntry, error)
}

// ExportAudit writes the audit entries f selects to w, in the order they
// were appended:
//
//	id,at,actor,action,result,object_type,object_id,client,detail
//	1,2026-03-02T17:00:00.123Z,alice,campaign.started,ok,campaign,12,192.0.2.x,
//
// with at in RFC 3339 form (milliseconds) in UTC. Like a responses file
// it starts with a UTF-8 byte order mark and every cell goes through
// [Neutralize]. It reads the source a page at a time (f.AfterID is where
// it starts, f.Limit caps the rows) and returns how many rows it wrote.
func ExportAudit(ctx context.Context, w io.Writer, src AuditSource, f outreach.AuditFilter) (int, error) {
	bw := bufio.NewWriter(w)
	cw := csv.NewWriter(bw)
	if _, err := bw.WriteString("\ufeff"); err != nil {
		return 0, fmt.Errorf("csvio: export audit: %w", err)
	}
	if err := cw.Write(auditHeader); err != nil {
		return 0, fmt.Errorf("csvio: export audit: %w", err)
	}
	total := f.Limit
	rows := 0
	cells := make([]string, len(auditHeader))
	for total <= 0 || rows < total {
		f.Limit = exportAuditPage
		if total > 0 {
			f.Limit = min(exportAuditPage, total-rows)
		}
		page, err := src.Audit(ctx, f)
		if err != nil {
			return rows, fmt.Errorf("csvio: export audit: %w", err)
		}
		for _, e := range page {
			cells[0] = strconv.FormatInt(e.ID, 10)
			cells[1] = e.At.UTC().Format("2006-01-02T15:04:05.000Z07:00")
			for i, v := range []string{e.Actor, e.Action, e.Result, e.ObjectType, e.ObjectID, e.Client, e.Detail} {
				cells[2+i] = Neutralize(v)
			}
			if err := cw.Write(cells); err != nil {
				return rows, fmt.Errorf("csvio: export audit: %w", err)
			}
			rows++
		}
		if len(page) < f.Limit {
			break
		}
		f.AfterID = page[len(page)-1].ID
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return rows, fmt.Errorf("csvio: export audit: %w", err)
	}
	return rows, nil
}
