package sqlitestore

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestQueryPlans checks that no statement of the hot path, and no query
// that grows with a campaign, scans a whole table of conversations,
// messages, inbox events or responses: each must find its rows through an
// index. (Scanning the small campaigns table is fine.)
func TestQueryPlans(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "outreach.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var queries []string
	var claim string
	multiRowInserts := map[string]bool{}
	for _, p := range s.st.queries() {
		queries = append(queries, p.query)
		switch p.dst {
		case &s.st.claim:
			claim = p.query
		case &s.st.insertConvs, &s.st.insertConvsShared, &s.st.insertMessages[0], &s.st.insertMessages[1]:
			multiRowInserts[p.query] = true
		}
	}
	queries = append(queries, nextDueFreeQuery, nextDueLeasedQuery, cancelMessagesQuery, cancelConversationsQuery, finishQuery,
		progressConversationsQuery, progressMessagesQuery, progressConversationIDs, progressMessageIDs, optedOutQuery,
		conversationsQuery, messagesQuery, unmatchedQuery, responsesQuery,
		purgeDueQuery, purgeMarkQuery, purgeMessagesQuery, purgeInboxQuery, purgeResponsesQuery, purgeUnmatchedQuery)
	for _, q := range queries {
		if strings.HasPrefix(q, "SAVEPOINT") || strings.HasPrefix(q, "RELEASE") || strings.HasPrefix(q, "ROLLBACK") {
			continue
		}
		plan := explain(t, s, q)
		// The claim must walk the due index in order, not sort every
		// unfinished conversation.
		if q == claim && !strings.Contains(strings.Join(plan, "\n"), "USING INDEX conversations_due") {
			t.Errorf("the claim does not use conversations_due:\n  %s", strings.Join(plan, "\n  "))
		}
		for _, step := range plan {
			if multiRowInserts[q] && (strings.HasSuffix(step, "-ROW VALUES CLAUSE") || step == "SCAN inbox" || strings.HasPrefix(step, "SCAN responses")) {
				// A statement that inserts several rows into a parent
				// table holds a search of each child table for rows a
				// deferred constraint left orphaned, run only when one
				// did (OP_FkIfZero, fkScanChildren in SQLite's fkey.c):
				// never here, since every foreign key is immediate.
				continue
			}
			if strings.HasPrefix(q, "SELECT EXISTS (SELECT 1 FROM pending_statuses)") && (step == "SCAN CONSTANT ROW" || strings.HasPrefix(step, "SCAN pending_statuses")) {
				// Whether the table has any row: the scan stops at
				// the first.
				continue
			}
			if strings.HasPrefix(q, "WITH u(") && (step == "SCAN u" || step == "SCAN CONSTANT ROW" || strings.HasSuffix(step, " CONSTANT ROWS")) {
				// The updates' own rows (commitConvsQuery), each
				// looked up by primary key.
				continue
			}
			if step == "SCAN CONSTANT ROW" && strings.HasPrefix(q, "SELECT coalesce((SELECT id FROM") {
				// The span of a campaign's ids (progressMessageIDs):
				// a SELECT without FROM of two subqueries.
				continue
			}
			if strings.HasPrefix(step, "SCAN ") && !strings.HasPrefix(step, "SCAN campaigns") && !strings.HasPrefix(step, "SCAN json_each") {
				t.Errorf("query scans a table:\n%s\nplan:\n  %s", strings.Join(strings.Fields(q), " "), strings.Join(plan, "\n  "))
			}
		}
	}
}

// explain returns the steps of SQLite's plan for q (EXPLAIN QUERY PLAN),
// with 1 for each of its parameters.
func explain(t *testing.T, s *Store, q string) []string {
	t.Helper()
	rows, err := s.w.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q, ones(q)...)
	if err != nil {
		t.Fatalf("explain %s: %v", q, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}

// ones returns arguments for q's parameters: 1 for each.
func ones(q string) []any {
	args := make([]any, paramCount(q))
	for i := range args {
		args[i] = 1
	}
	return args
}

// paramCount returns the number of parameters of q: the highest ?N, or
// the number of bare ?.
func paramCount(q string) int {
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] != '?' {
			continue
		}
		j := i + 1
		for j < len(q) && q[j] >= '0' && q[j] <= '9' {
			j++
		}
		if j == i+1 {
			n++
			continue
		}
		v, _ := strconv.Atoi(q[i+1 : j])
		n = max(n, v)
	}
	return n
}
