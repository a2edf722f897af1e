package sqlitestore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/patient-outreach/sms/outreach"
)

// The queries of ExportRows read the few columns a responses file needs,
// so that no conversation's JSON is read or decoded, and return them in
// one text (see packed) rather than in a row for each: the driver locks
// the connection's mutex several times for each column of each row it
// reads, which cost more than SQLite's own reading of the rows. They give
// the records in the order ExportRows needs, which their indexes give,
// but group_concat does not promise to keep: ExportRows checks it.
var (
	// exportConvsQuery packs a page of a campaign's conversations, each
	// as id, patient id, first name, phone and outcome. ?1 campaign, ?2
	// after conversation, ?3 limit.
	exportConvsQuery = `SELECT coalesce(group_concat(rec, ''), '') FROM (
		SELECT id || ',' || ` + packText("patient_id") + ` || ` + packText("first_name") + ` || ` +
		packText("phone") + ` || ` + packText("outcome") + ` AS rec
		FROM conversations WHERE campaign_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3)`
	// exportResponsesQuery packs the responses of a page of conversations,
	// each as conversation id, time, id, question id, answer, raw text
	// and doubt, in the order of responsesQuery. ?1 campaign, ?2 after
	// conversation, ?3 last conversation of the page.
	exportResponsesQuery = `SELECT coalesce(group_concat(rec, ''), '') FROM (
		SELECT conversation_id || ',' || replied_at || ',' || id || ',' || ` + packText("question_id") + ` || ` +
		packText("answer") + ` || ` + packText("raw") + ` || ` + packText("doubt") + ` AS rec
		FROM responses WHERE campaign_id = ?1 AND conversation_id > ?2 AND conversation_id <= ?3
		ORDER BY conversation_id, replied_at, id)`
)

// packText is the SQL expression of a text column packed as packed.text
// reads it: its length in bytes, a colon, and its bytes.
func packText(col string) string {
	return `octet_length(` + col + `) || ':' || ` + col
}

// packed is the records an export query packs: integers each in decimal
// followed by a comma, texts each as packText writes them (every column
// packed is NOT NULL: a NULL would make its record NULL, which
// group_concat leaves out). Its methods read the next value from the
// front; a malformed value sets bad.
type packed struct {
	s   string
	bad bool
}

// int reads an integer.
func (p *packed) int() int64 {
	i := strings.IndexByte(p.s, ',')
	n, err := strconv.ParseInt(p.s[:max(i, 0)], 10, 64)
	if i < 0 || err != nil {
		p.bad, p.s = true, ""
		return 0
	}
	p.s = p.s[i+1:]
	return n
}

// text reads a text.
func (p *packed) text() string {
	i := strings.IndexByte(p.s, ':')
	n, err := strconv.Atoi(p.s[:max(i, 0)])
	if i < 0 || err != nil || n < 0 || n > len(p.s)-i-1 {
		p.bad, p.s = true, ""
		return ""
	}
	t := p.s[i+1 : i+1+n]
	p.s = p.s[i+1+n:]
	return t
}

// exportPage is a page of ExportRows being read: its conversations'
// rows of no response, and its responses with what orders them.
type exportPage struct {
	convs []outreach.ExportRow
	resps []exportResponse
}

type exportResponse struct {
	conv, at, id int64
	row          outreach.ExportRow
}

func (a exportResponse) compare(b exportResponse) int {
	return cmp.Or(cmp.Compare(a.conv, b.conv), cmp.Compare(a.at, b.at), cmp.Compare(a.id, b.id))
}

// exportPages holds pages of ExportRows, reused from one call to the
// next.
var exportPages = sync.Pool{New: func() any { return new(exportPage) }}

var _ outreach.ExportRowLister = (*Store)(nil)

// ExportRows appends to dst the export rows of the campaign's first
// limit conversations with ID > after (see [outreach.ExportRow]) and
// returns the extended slice. It reads the page's conversations, then
// their responses, and merges the two in conversation order.
func (s *Store) ExportRows(ctx context.Context, dst []outreach.ExportRow, campaignID, after int64, limit int) ([]outreach.ExportRow, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	page := exportPages.Get().(*exportPage)
	defer func() {
		// Let the strings go while the page waits in the pool.
		clear(page.convs)
		clear(page.resps)
		exportPages.Put(page)
	}()
	var text string
	if err := s.r.QueryRowContext(ctx, exportConvsQuery, campaignID, after, limit).Scan(&text); err != nil {
		return dst, wrap("export rows", err)
	}
	convs := page.convs[:0]
	p := packed{s: text}
	for p.s != "" && !p.bad {
		convs = append(convs, outreach.ExportRow{ConversationID: p.int(), PatientID: p.text(), FirstName: p.text(), Phone: p.text(), Outcome: p.text()})
	}
	page.convs = convs
	if p.bad {
		return dst, wrap("export rows", errors.New("malformed conversation"))
	}
	if len(convs) == 0 {
		return dst, nil
	}
	if !slices.IsSortedFunc(convs, byConversation) {
		slices.SortFunc(convs, byConversation)
	}
	if err := s.r.QueryRowContext(ctx, exportResponsesQuery, campaignID, after, convs[len(convs)-1].ConversationID).Scan(&text); err != nil {
		return dst, wrap("export rows", err)
	}
	resps := page.resps[:0]
	p = packed{s: text}
	for p.s != "" && !p.bad {
		r := exportResponse{conv: p.int(), at: p.int(), id: p.int()}
		r.row.QuestionID, r.row.Answer, r.row.Raw, r.row.Doubt = p.text(), p.text(), p.text(), outreach.Doubt(p.text())
		resps = append(resps, r)
	}
	page.resps = resps
	if p.bad {
		return dst, wrap("export rows", errors.New("malformed response"))
	}
	if !slices.IsSortedFunc(resps, exportResponse.compare) {
		slices.SortFunc(resps, exportResponse.compare)
	}
	// i is the conversation the last response read was of, answered
	// whether it had one; a conversation passed without one gets its row
	// of no response.
	i, answered := 0, false
	for _, resp := range resps {
		for i < len(convs) && convs[i].ConversationID < resp.conv {
			if !answered {
				dst = append(dst, convs[i])
			}
			i, answered = i+1, false
		}
		if i == len(convs) || convs[i].ConversationID != resp.conv {
			return dst, wrap("export rows", fmt.Errorf("response of conversation %d outside the page", resp.conv))
		}
		c, r := &convs[i], resp.row
		r.ConversationID, r.PatientID, r.FirstName, r.Phone, r.Outcome = c.ConversationID, c.PatientID, c.FirstName, c.Phone, c.Outcome
		r.RepliedAt = fromNanos(resp.at)
		dst, answered = append(dst, r), true
	}
	for ; i < len(convs); i, answered = i+1, false {
		if !answered {
			dst = append(dst, convs[i])
		}
	}
	return dst, nil
}

func byConversation(a, b outreach.ExportRow) int {
	return cmp.Compare(a.ConversationID, b.ConversationID)
}
