package outreach

import (
	"context"
	"time"
)

// ExportRow is one row of a campaign's responses as an export reads it:
// a conversation's recipient and outcome with one of its responses, or,
// for a conversation with none, with the response fields empty. It holds
// only what a responses file needs, so a store can list it without
// decoding whole conversations.
//
// Stores that can list these rows are [ExportRowLister]s.
type ExportRow struct {
	ConversationID int64
	// PatientID, FirstName, Phone and Outcome are the conversation's
	// (its Recipient's and its Outcome).
	PatientID string
	FirstName string
	Phone     string
	Outcome   string
	// QuestionID, Answer, Raw, Doubt and RepliedAt are the response's;
	// all empty (QuestionID "", RepliedAt zero) for a conversation with
	// no response.
	QuestionID string
	Answer     string
	Raw        string
	Doubt      Doubt
	RepliedAt  time.Time
}

// ExportRowLister is a store that lists its campaigns' export rows, an
// optional interface: every store of this module implements it, and
// package csvio uses it when a store does.
type ExportRowLister interface {
	// ExportRows appends to dst the rows of the campaign's first limit
	// conversations with ID > after (limit > 0), in conversation ID
	// order, each conversation's responses in the order
	// [Store.Responses] lists them, and returns the extended slice; an
	// unknown campaign has no rows. Call it again with after set to the
	// last row's ConversationID to page through a campaign. The rows are
	// exactly those [Store.Conversations] and [Store.Responses] give.
	ExportRows(ctx context.Context, dst []ExportRow, campaignID, after int64, limit int) ([]ExportRow, error)
}

// ResponsesStore returns the store the runner's Responses read: they are
// [CampaignResponses] over it, so a reader such as package csvio may read
// that store directly (and faster) and get the same rows.
func (r *Runner) ResponsesStore() Store { return r.store }
