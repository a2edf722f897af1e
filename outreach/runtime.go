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
	// StartCampaign, PauseCampaign, ResumeCampaign and CancelCampaign move
	// a campaign along its lifecycle. A runtime works only in its own
	// world (see [Campaign.World]): a campaign of another is refused with
	// a *[WorldError].
	StartCampaign(ctx context.Context, id int64) error
	PauseCampaign(ctx context.Context, id int64) error
	ResumeCampaign(ctx context.Context, id int64) error
	CancelCampaign(ctx context.Context, id int64) error
	// Progress counts where a campaign stands.
	Progress(ctx context.Context, id int64) (Progress, error)
	// Responses returns a page of a campaign's answers, the same rows
	// whichever runtime collected them.
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
	return r.store.Progress(ctx, id, r.opts.Clock.Now())
}

// Responses returns a page of a campaign's answers.
func (r *Runner) Responses(ctx context.Context, id int64, page ResponsePage) ([]Response, error) {
	return r.store.Responses(ctx, id, page)
}
