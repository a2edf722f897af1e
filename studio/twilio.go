package studio

import (
	"context"

	"github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"
	messaging "github.com/twilio/twilio-go/rest/messaging/v1"
	studioapi "github.com/twilio/twilio-go/rest/studio/v2"

	"github.com/patient-outreach/sms/internal/twiliocall"
)

// twilioCaller makes calls to Twilio through twilio-go, each bound to the
// caller's context and the per-call timeout (see internal/twiliocall).
type twilioCaller struct{ twiliocall.Caller }

// studio runs fn with a Studio v2 service whose every request carries
// ctx, bounded by the per-call timeout.
func (c *twilioCaller) studio(ctx context.Context, fn func(*studioapi.ApiService) error) error {
	_, err := c.Do(ctx, func(cl *client.Client) error {
		return fn(studioapi.NewApiServiceWithClient(cl))
	})
	return err
}

// api runs fn with a 2010 API service (the account SID in every path)
// whose every request carries ctx, bounded by the per-call timeout.
func (c *twilioCaller) api(ctx context.Context, fn func(*api.ApiService) error) error {
	_, err := c.Do(ctx, func(cl *client.Client) error {
		return fn(api.NewApiServiceWithClient(cl))
	})
	return err
}

// messaging runs fn with a Messaging v1 service whose every request
// carries ctx, bounded by the per-call timeout.
func (c *twilioCaller) messaging(ctx context.Context, fn func(*messaging.ApiService) error) error {
	_, err := c.Do(ctx, func(cl *client.Client) error {
		return fn(messaging.NewApiServiceWithClient(cl))
	})
	return err
}
