package csvio

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/patient-outreach/sms/outreach"
)

// exportPage is how many conversations ExportResponses reads at a time.
const exportPage = 500

// ResponseSource is what [ExportResponses] reads: any [outreach.Store]
// has both methods. To export through an [outreach.Runtime], as the
// example programs do, pair a store's Conversations with the runtime's
// Responses (see [RuntimeSource]).
type ResponseSource interface {
	Conversations(ctx context.Context, campaignID, after int64, limit int) ([]outreach.Conversation, error)
	Responses(ctx context.Context, campaignID int64, page outreach.ResponsePage) ([]outreach.Response, error)
}

// RuntimeSource returns a ResponseSource that reads the conversations from
// store and the responses from rt.
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

// ExportResponses writes a campaign's responses file to w: one row per
// reply each recipient gave (a reply that did not match a question has an
// empty answer), in conversation order, and one row with an empty
// question_id for each recipient who gave none, so every recipient's
// outcome is in the file. A reply that could not be read says why in the
// review column; when s also lists the campaign's alerts (every
// [outreach.Store] does), a reply that raised one lists its urgent terms
// in the alert column. It reads the store a page at a time and returns
// how many rows it wrote.
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
	err := EachConversation(ctx, s, campaignID, func(c outreach.Conversation, list []outreach.Response) error {
		if len(list) == 0 {
			list = []outreach.Response{{}}
		}
		for _, r := range list {
			row := NewResponseRow(c, r)
			if !r.RepliedAt.IsZero() {
				row.Alert = strings.Join(alerts[alertKey{c.ID, r.RepliedAt.UnixNano()}], "; ")
			}
			if err := rw.Write(row); err != nil {
				return err
			}
			rows++
		}
		return nil
	})
	if err != nil {
		return rows, err
	}
	if err := rw.Flush(); err != nil {
		return rows, err
	}
	return rows, nil
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
