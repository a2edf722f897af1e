package studio

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"
	studioapi "github.com/twilio/twilio-go/rest/studio/v2"
)

// twilioCaller makes calls to Twilio through twilio-go, one service per
// call, over an http.Client whose transport applies the call's context
// and timeout and closes every response body when the call returns. The
// requests run on the calling goroutine: nothing outlives a call.
type twilioCaller struct {
	accountSID, authToken string
	base                  http.RoundTripper
	timeout               time.Duration
}

// callTransport applies one call's context to every request twilio-go
// makes, and closes the response bodies twilio-go leaves open.
type callTransport struct {
	ctx  context.Context
	base http.RoundTripper

	mu     sync.Mutex
	bodies []io.ReadCloser
}

func (t *callTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.ctx.Err(); err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, fmt.Errorf("studio: request not sent: %w", err)
	}
	resp, err := t.base.RoundTrip(req.WithContext(t.ctx))
	if resp != nil {
		t.mu.Lock()
		t.bodies = append(t.bodies, resp.Body)
		t.mu.Unlock()
	}
	return resp, err
}

// finish drains (a little) and closes every response body, so that the
// connection can be reused and nothing stays open.
func (t *callTransport) finish() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, b := range t.bodies {
		_, _ = io.Copy(io.Discard, io.LimitReader(b, 64<<10))
		_ = b.Close()
	}
	t.bodies = nil
}

// client returns a twilio-go client whose requests go through tr.
func (c *twilioCaller) client(tr *callTransport) *client.Client {
	cl := &client.Client{
		Credentials: client.NewCredentials(c.accountSID, c.authToken),
		HTTPClient: &http.Client{
			Transport: tr,
			// As twilio-go's default client: never follow redirects.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	cl.SetAccountSid(c.accountSID)
	return cl
}

// begin starts a call: a transport bound to ctx and the per-call timeout,
// and the function that ends the call.
func (c *twilioCaller) begin(ctx context.Context) (*callTransport, func()) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	tr := &callTransport{ctx: ctx, base: c.base}
	return tr, func() {
		tr.finish()
		cancel()
	}
}

// studio runs fn with a Studio v2 service whose every request carries
// ctx, bounded by the per-call timeout.
func (c *twilioCaller) studio(ctx context.Context, fn func(*studioapi.ApiService) error) error {
	tr, end := c.begin(ctx)
	defer end()
	return fn(studioapi.NewApiServiceWithClient(c.client(tr)))
}

// api runs fn with a 2010 API service (the account SID in every path)
// whose every request carries ctx, bounded by the per-call timeout.
func (c *twilioCaller) api(ctx context.Context, fn func(*api.ApiService) error) error {
	tr, end := c.begin(ctx)
	defer end()
	return fn(api.NewApiServiceWithClient(c.client(tr)))
}
