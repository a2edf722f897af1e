package outreach

import (
	"context"
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
	// a campaign along its lifecycle.
	StartCampaign(ctx context.Context, id int64) error
	PauseCampaign(ctx context.Context, id int64) error
	ResumeCampaign(ctx context.Context, id int64) error
	CancelCampaign(ctx context.Context, id int64) error
	// Progress counts where a campaign stands.
	Progress(ctx context.Context, id int64) (Progress, error)
	// Responses returns a page of a campaign's answers, the same rows
	// whichever runtime collected them.
	Responses(ctx context.Context, id int64, page ResponsePage) ([]Response, error)
	// Run does the runtime's background work until ctx is cancelled.
	Run(ctx context.Context) error
}

var _ Runtime = (*Runner)(nil)

// Name returns "embedded".
func (r *Runner) Name() string { return "embedded" }

// Progress counts where a campaign stands, as of the runner's clock.
func (r *Runner) Progress(ctx context.Context, id int64) (Progress, error) {
	return r.store.Progress(ctx, id, r.opts.Clock.Now())
}

// Responses returns a page of a campaign's answers.
func (r *Runner) Responses(ctx context.Context, id int64, page ResponsePage) ([]Response, error) {
	return r.store.Responses(ctx, id, page)
}
