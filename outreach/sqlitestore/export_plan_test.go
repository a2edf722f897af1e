package sqlitestore

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportQueryPlans: ExportRows finds a page's conversations and
// responses through the campaign indexes, in their order: no table scan
// and no sort of the page.
func TestExportQueryPlans(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "outreach.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct{ query, index string }{
		{exportConvsQuery, "conversations_campaign"},
		{exportResponsesQuery, "responses_campaign"},
	} {
		plan := explain(t, s, tc.query)
		all := strings.Join(plan, "\n  ")
		if !strings.Contains(all, "USING INDEX "+tc.index) && !strings.Contains(all, "USING COVERING INDEX "+tc.index) {
			t.Errorf("query does not use %s:\n%s\nplan:\n  %s", tc.index, tc.query, all)
		}
		for _, step := range plan {
			// The page's rows, read in order by group_concat.
			coroutine := strings.HasPrefix(step, "SCAN (subquery-")
			if strings.HasPrefix(step, "SCAN ") && !coroutine || strings.Contains(step, "TEMP B-TREE") {
				t.Errorf("query scans or sorts:\n%s\nplan:\n  %s", tc.query, all)
			}
		}
	}
}
