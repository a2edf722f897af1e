package outreach

import (
	"context"
	"fmt"
	"time"
)

// Runtime runs campaigns. The example programs drive campaigns only
// through it, so neither splits its code paths by runtime: the embedded
// [Runner] implements it, and so does the Twilio Studio runtime (package
// studio), which runs each conversation as a Studio Execution.
type Runtime interface {
	// Name says which runtime this is: "embedded" or "studio".
	Name() string
	// CreateCampaign stores a draft campaign of flow over recipients.
	CreateCampaign(ctx context.Context, nc NewCampaign, recipients []Recipient) (Campaign, int, error)
	// AddRecipients adds recipients to a campaign that is not finished,
	// skipping those it has (by ID). With CreateCampaign, it lets
	// [CreateCampaignFrom] store a campaign's recipients in batches.
	AddRecipients(ctx context.Context, id int64, recipients []Recipient) (int, error)
	// StartCampaign, PauseCampaign, ResumeCampaign and CancelCampaign move
	// a campaign along its lifecycle. A runtime works only in its own
	// world (see [Campaign.World]): a campaign of another is refused with
	// a *[WorldError].
	StartCampaign(ctx context.Context, id int64) error
	PauseCampaign(ctx context.Context, id int64) error
	ResumeCampaign(ctx context.Context, id int64) error
	CancelCampaign(ctx context.Context, id int64) error
	// Progress counts where a campaign stands, with its status.
	Progress(ctx context.Context, id int64) (Progress, error)
	// Responses returns a page of a campaign's answers, the same rows
	// whichever runtime collected them and the same rows as the responses
	// CSV: one per reply, and one with an empty QuestionID for each
	// recipient who gave none, each with its conversation's outcome (see
	// [CampaignResponses]).
	Responses(ctx context.Context, id int64, page ResponsePage) ([]Response, error)
	// Run does the runtime's background work until ctx is cancelled, on
	// its own world's campaigns only.
	Run(ctx context.Context) error
}

// RuntimeEmbedded is the name of the embedded runtime, the [Runner].
const RuntimeEmbedded = "embedded"

// NumberOwner records who receives the replies to a sending number. By
// default the embedded runtime does (the number's incoming-message URL
// points at the app's webhook); a two-way Twilio Studio flow needs the
// number's incoming-message URL pointed at the flow instead, so while it
// owns the number the embedded runtime would see none of its replies or
// STOPs, and refuses campaigns on it.
type NumberOwner struct {
	// Number is the sending number (E.164) or messaging service SID.
	Number string `json:"number"`
	// Runtime is the owning runtime's name, such as "studio".
	Runtime string `json:"runtime"`
	// Flow identifies the owner within the runtime: a Studio flow SID.
	Flow string `json:"flow,omitempty"`
	// FlowName is a readable name of the flow, for messages.
	FlowName string    `json:"flow_name,omitempty"`
	Since    time.Time `json:"since"`
}

func (o NumberOwner) describe() string {
	switch {
	case o.Runtime == "":
		return "the embedded runtime"
	case o.FlowName != "" && o.Flow != "":
		return fmt.Sprintf("the %s runtime (flow %q, %s)", o.Runtime, o.FlowName, o.Flow)
	case o.Flow != "":
		return fmt.Sprintf("the %s runtime (flow %s)", o.Runtime, o.Flow)
	}
	return fmt.Sprintf("the %s runtime", o.Runtime)
}

var _ Runtime = (*Runner)(nil)

// Name returns "embedded".
func (r *Runner) Name() string { return "embedded" }

// World returns the runner's world (RunnerOptions.World).
func (r *Runner) World() string { return r.opts.World }

// Scope returns the campaigns the runner works on: the embedded
// runtime's, of its world.
func (r *Runner) Scope() Scope { return Scope{Runtime: RuntimeEmbedded, World: r.opts.World} }

// Progress counts where a campaign stands, as of the runner's clock.
func (r *Runner) Progress(ctx context.Context, id int64) (Progress, error) {
	return CampaignProgress(ctx, r.store, id, r.opts.Clock.Now())
}

// Responses returns a page of a campaign's answers, with a row for each
// recipient who gave none ([CampaignResponses]).
func (r *Runner) Responses(ctx context.Context, id int64, page ResponsePage) ([]Response, error) {
	return CampaignResponses(ctx, r.store, id, page)
}

// CampaignProgress returns the store's progress of campaign id as of now,
// with the campaign's status. Runtimes implement Progress with it.
func CampaignProgress(ctx context.Context, s Store, id int64, now time.Time) (Progress, error) {
	c, err := s.Campaign(ctx, id)
	if err != nil {
		return Progress{}, err
	}
	p, err := s.Progress(ctx, id, now)
	if err != nil {
		return Progress{}, err
	}
	p.Status = c.Status
	return p, nil
}

// responsesChunk is how many conversations CampaignResponses reads at a
// time when the page has no limit.
const responsesChunk = 1000

// CampaignResponses returns a page of campaign id's answers as runtimes
// give them: the store's responses of the page's conversations, in
// conversation order, and a row with an empty QuestionID for each
// conversation with none, each row with its conversation's PatientID and
// Outcome. So every recipient is in the result, as in the responses CSV.
// Runtimes implement Responses with it.
func CampaignResponses(ctx context.Context, s Store, id int64, page ResponsePage) ([]Response, error) {
	if _, err := s.Campaign(ctx, id); err != nil {
		return nil, err
	}
	var out []Response
	after := page.AfterConversation
	left := page.Limit // 0: no limit
	for page.Limit == 0 || left > 0 {
		n := responsesChunk
		if page.Limit > 0 {
			n = min(n, left)
		}
		convs, err := s.Conversations(ctx, id, after, n)
		if err != nil {
			return nil, err
		}
		if len(convs) == 0 {
			break
		}
		resp, err := s.Responses(ctx, id, ResponsePage{AfterConversation: after, Limit: len(convs)})
		if err != nil {
			return nil, err
		}
		byConv := make(map[int64][]Response, len(convs))
		for _, r := range resp {
			byConv[r.ConversationID] = append(byConv[r.ConversationID], r)
		}
		for _, c := range convs {
			list := byConv[c.ID]
			if len(list) == 0 {
				list = []Response{{CampaignID: id, ConversationID: c.ID, PatientID: c.Recipient.ID}}
			}
			for _, r := range list {
				r.Outcome = c.Outcome
				out = append(out, r)
			}
		}
		after = convs[len(convs)-1].ID
		left -= len(convs)
		if len(convs) < n {
			break
		}
	}
	return out, nil
}
