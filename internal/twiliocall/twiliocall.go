// Package twiliocall makes calls through twilio-go the way every package of
// this module needs them: twilio-go builds its requests with
// context.Background(), drops response headers and leaves error bodies
// open, so each call gets a fresh client over an http.Client whose
// transport applies the caller's context and a per-call timeout, keeps the
// status and headers of the latest response (Retry-After), and closes
// every response body before the call returns. Requests run on the calling
// goroutine: nothing outlives a call.
package twiliocall

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/twilio/twilio-go/client"
)

// ErrNotSent marks a request that never left: the call's context ended
// before it was sent. It wraps the context's error.
var ErrNotSent = errors.New("twilio request not sent")

// Caller holds what every call needs.
type Caller struct {
	AccountSID, AuthToken string
	// Base is the transport requests finally go through; nil means
	// http.DefaultTransport.
	Base http.RoundTripper
	// Timeout bounds one call; zero means no bound beyond the context.
	Timeout time.Duration
}

// Response is what twilio-go drops of the latest response of a call.
type Response struct {
	Status int
	Header http.Header
}

// Do runs fn with a twilio-go client (its account SID set) whose every
// request carries ctx, bounded by Timeout, and returns fn's error and the
// status and headers of the latest response (zero when none came).
func (c Caller) Do(ctx context.Context, fn func(*client.Client) error) (Response, error) {
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	base := c.Base
	if base == nil {
		base = http.DefaultTransport
	}
	tr := &transport{ctx: ctx, base: base}
	defer tr.finish()
	cl := &client.Client{
		Credentials: client.NewCredentials(c.AccountSID, c.AuthToken),
		HTTPClient: &http.Client{
			Transport: tr,
			// As twilio-go's default client: never follow redirects.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	// The 2010 API puts the account SID in every path from here.
	cl.SetAccountSid(c.AccountSID)
	err := fn(cl)
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.resp, err
}

// transport applies one call's context to every request twilio-go makes,
// and keeps what twilio-go drops.
type transport struct {
	ctx  context.Context
	base http.RoundTripper

	mu     sync.Mutex
	resp   Response
	bodies []io.ReadCloser
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.ctx.Err(); err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, fmt.Errorf("%w: %w", ErrNotSent, err)
	}
	resp, err := t.base.RoundTrip(req.WithContext(t.ctx))
	if resp != nil {
		t.mu.Lock()
		t.resp = Response{Status: resp.StatusCode, Header: resp.Header}
		t.bodies = append(t.bodies, resp.Body)
		t.mu.Unlock()
	}
	return resp, err
}

// finish drains (a little) and closes every response body, so that the
// connection can be reused and nothing stays open.
func (t *transport) finish() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, b := range t.bodies {
		_, _ = io.Copy(io.Discard, io.LimitReader(b, 64<<10))
		_ = b.Close()
	}
	t.bodies = nil
}

// Pages walks a Twilio list a page at a time: page fetches the page named
// by token and number (the PageToken and Page of the previous page's
// next-page URL; both empty for the first page) and returns the list's
// next-page URL, or "" to stop: at the end of the list, or once it has
// read what it needed. Pages stops after maxPages pages; complete reports
// whether page stopped it before that.
func Pages(maxPages int, page func(token, number string) (next string, err error)) (complete bool, err error) {
	token, number := "", ""
	for range maxPages {
		next, err := page(token, number)
		if err != nil || next == "" {
			return err == nil, err
		}
		u, err := url.Parse(next)
		if err != nil {
			return false, fmt.Errorf("bad next page URL: %w", err)
		}
		token, number = u.Query().Get("PageToken"), u.Query().Get("Page")
	}
	return false, nil
}
