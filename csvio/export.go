package csvio

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/patient-outreach/sms/outreach"
)

// exportPage is how many conversations ExportResponses reads at a time
// through Conversations and Responses, and exportRowsPage through a
// store's ExportRows, whose rows are smaller.
const (
	exportPage     = 500
	exportRowsPage = 2000
)

// ResponseSource is what [ExportResponses] reads: any [outreach.Store]
// has both methods. To export through an [outreach.Runtime], as the
// example programs do, pair a store's Conversations with the runtime's
// Responses (see [RuntimeSource]).
type ResponseSource interface {
	Conversations(ctx context.Context, campaignID, after int64, limit int) ([]outreach.Conversation, error)
	Responses(ctx context.Context, campaignID int64, page outreach.ResponsePage) ([]outreach.Response, error)
}

// RuntimeSource returns a ResponseSource that reads the conversations from
// store and the responses from rt. When rt says its responses are
// store's (the embedded runtime, [outreach.Runner], whose
// ResponsesStore is store), [ExportResponses] reads store's export rows
// instead, which give the same file faster; the responses of any other
// runtime are read from it.
func RuntimeSource(store outreach.Store, rt outreach.Runtime) ResponseSource {
	return runtimeSource{store, rt}
}

type runtimeSource struct {
	store outreach.Store
	rt    outreach.Runtime
}

func (s runtimeSource) Conversations(ctx context.Context, campaignID, after int64, limit int) ([]outreach.Conversation, error) {
	return s.store.Conversations(ctx, campaignID, after, limit)
}

// Alerts reads the alerts from the store.
func (s runtimeSource) Alerts(ctx context.Context, campaignID int64) ([]outreach.Alert, error) {
	return s.store.Alerts(ctx, campaignID)
}

// alertSource is a ResponseSource that also has the campaign's alerts
// (any [outreach.Store] does): ExportResponses then fills the alert
// column.
type alertSource interface {
	Alerts(ctx context.Context, campaignID int64) ([]outreach.Alert, error)
}

// alertKey finds the alert of a reply: its conversation and time.
type alertKey struct {
	conv int64
	at   int64
}

func (s runtimeSource) Responses(ctx context.Context, campaignID int64, page outreach.ResponsePage) ([]outreach.Response, error) {
	return s.rt.Responses(ctx, campaignID, page)
}

// responsesStore is a runtime whose Responses are those of a store
// ([outreach.CampaignResponses] over it), such as the embedded runtime,
// [outreach.Runner].
type responsesStore interface {
	ResponsesStore() outreach.Store
}

// exportRows returns the export rows of s, when s can list them and they
// are the rows its Conversations and Responses would give: a store's,
// or those of a [RuntimeSource] whose runtime reads its responses from
// the same store.
func exportRows(s ResponseSource) (outreach.ExportRowLister, bool) {
	if rs, ok := s.(runtimeSource); ok {
		rt, ok := rs.rt.(responsesStore)
		if !ok || !sameStore(rt.ResponsesStore(), rs.store) {
			return nil, false
		}
		er, ok := rs.store.(outreach.ExportRowLister)
		return er, ok
	}
	er, ok := s.(outreach.ExportRowLister)
	return er, ok
}

// sameStore reports whether a and b are the same store; stores of
// types that cannot be compared are never the same.
func sameStore(a, b outreach.Store) bool {
	ta := reflect.TypeOf(a)
	return ta != nil && ta == reflect.TypeOf(b) && ta.Comparable() && a == b
}

// ExportResponses writes a campaign's responses file to w: one row per
// reply each recipient gave (a reply that did not match a question has an
// empty answer), in conversation order, and one row with an empty
// question_id for each recipient who gave none, so every recipient's
// outcome is in the file. A reply that could not be read says why in the
// review column; when s also lists the campaign's alerts (every
// [outreach.Store] does), a reply that raised one lists its urgent terms
// in the alert column. It reads the store a page at a time and returns
// how many rows it wrote.
//
// When s lists the rows itself (an [outreach.ExportRowLister], as every
// store of this module is, or a [RuntimeSource] of the embedded runtime
// over such a store), it reads them that way, without decoding whole
// conversations; the file is the same.
func ExportResponses(ctx context.Context, w io.Writer, s ResponseSource, campaignID int64) (int, error) {
	rw := NewResponseWriter(w)
	rows := 0
	alerts := map[alertKey][]string{}
	if as, ok := s.(alertSource); ok {
		list, err := as.Alerts(ctx, campaignID)
		if err != nil {
			return 0, fmt.Errorf("csvio: export campaign %d: %w", campaignID, err)
		}
		for _, a := range list {
			alerts[alertKey{a.ConversationID, a.At.UnixNano()}] = a.Terms
		}
	}
	write := func(row ResponseRow, conv int64) error {
		if !row.RepliedAt.IsZero() {
			if terms := alerts[alertKey{conv, row.RepliedAt.UnixNano()}]; len(terms) > 0 {
				row.Alert = strings.Join(terms, "; ")
			}
		}
		if err := rw.Write(row); err != nil {
			return err
		}
		rows++
		return nil
	}
	var err error
	if er, ok := exportRows(s); ok {
		err = eachExportRow(ctx, er, campaignID, func(r *outreach.ExportRow) error {
			return write(ResponseRow{
				PatientID:  r.PatientID,
				FirstName:  r.FirstName,
				Phone:      r.Phone,
				QuestionID: r.QuestionID,
				Answer:     r.Answer,
				Raw:        r.Raw,
				RepliedAt:  r.RepliedAt,
				Outcome:    r.Outcome,
				Review:     describeDoubt(r.Doubt),
			}, r.ConversationID)
		})
	} else {
		err = EachConversation(ctx, s, campaignID, func(c outreach.Conversation, list []outreach.Response) error {
			if len(list) == 0 {
				list = []outreach.Response{{}}
			}
			for _, r := range list {
				if err := write(NewResponseRow(c, r), c.ID); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err != nil {
		return rows, err
	}
	if err := rw.Flush(); err != nil {
		return rows, err
	}
	return rows, nil
}

// eachExportRow calls fn with each of a campaign's export rows, reading
// s a page of conversations at a time into one reused slice (memory does
// not grow with the campaign). It stops at fn's first error and returns
// it.
func eachExportRow(ctx context.Context, s outreach.ExportRowLister, campaignID int64, fn func(*outreach.ExportRow) error) error {
	var (
		page  []outreach.ExportRow
		after int64
		err   error
	)
	for {
		page, err = s.ExportRows(ctx, page[:0], campaignID, after, exportRowsPage)
		if err != nil {
			return fmt.Errorf("csvio: export campaign %d: %w", campaignID, err)
		}
		if len(page) == 0 {
			return nil
		}
		for i := range page {
			if err := fn(&page[i]); err != nil {
				return err
			}
		}
		after = page[len(page)-1].ConversationID
	}
}

// EachConversation calls fn with each of a campaign's conversations, in
// ID order, and its responses in reply order, reading s a page at a
// time (memory does not grow with the campaign). It stops at fn's first
// error and returns it.
func EachConversation(ctx context.Context, s ResponseSource, campaignID int64, fn func(outreach.Conversation, []outreach.Response) error) error {
	var after int64
	for {
		convs, err := s.Conversations(ctx, campaignID, after, exportPage)
		if err != nil {
			return fmt.Errorf("csvio: export campaign %d: %w", campaignID, err)
		}
		if len(convs) == 0 {
			return nil
		}
		last := convs[len(convs)-1].ID
		resp, err := s.Responses(ctx, campaignID, outreach.ResponsePage{AfterConversation: after, Limit: len(convs)})
		if err != nil {
			return fmt.Errorf("csvio: export campaign %d: %w", campaignID, err)
		}
		byConv := make(map[int64][]outreach.Response, len(convs))
		for _, r := range resp {
			if r.ConversationID <= last {
				byConv[r.ConversationID] = append(byConv[r.ConversationID], r)
			}
		}
		for _, c := range convs {
			if err := fn(c, byConv[c.ID]); err != nil {
				return err
			}
		}
		after = last
	}
}
