package fhirio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"
)

// Client posts Bundles to a FHIR server.
type Client struct {
	// BaseURL is the server's base, such as https://ehr.example.org/fhir.
	BaseURL string
	// Token is a bearer token sent with every request, if set.
	Token string
	// HTTPClient sends the requests; nil means one with a 30 s timeout.
	HTTPClient *http.Client
	// Retries is how many times a request answered 429 or 5xx, or that
	// failed to get an answer, is sent again; zero means 3. A 429's
	// Retry-After is honoured, else the wait doubles from 1 s.
	Retries int
	// Sleep waits between tries; nil means a timer on ctx. Tests set it.
	Sleep func(ctx context.Context, d time.Duration) error
}

// EntryError is one entry of a transaction or batch that the server
// refused: its index in the Bundle sent, the status it answered, and
// the diagnostics of its OperationOutcome, if any.
type EntryError struct {
	Index       int
	Status      string
	Diagnostics string
}

func (e EntryError) Error() string {
	if e.Diagnostics == "" {
		return fmt.Sprintf("entry %d: %s", e.Index, e.Status)
	}
	return fmt.Sprintf("entry %d: %s: %s", e.Index, e.Status, e.Diagnostics)
}

// BundleError reports the entries of a batch the server refused (a
// transaction is all or nothing: its refusal is a *[StatusError]).
type BundleError struct{ Entries []EntryError }

func (e *BundleError) Error() string {
	msgs := make([]string, len(e.Entries))
	for i, x := range e.Entries {
		msgs[i] = x.Error()
	}
	return "fhirio: the server refused " + strconv.Itoa(len(e.Entries)) + " entries: " + strings.Join(msgs, "; ")
}

// StatusError is a request the server answered with an error status
// after the retries (or at once, for statuses that retrying cannot
// change).
type StatusError struct {
	Status      int
	Diagnostics string
}

func (e *StatusError) Error() string {
	if e.Diagnostics == "" {
		return fmt.Sprintf("fhirio: the FHIR server answered %d", e.Status)
	}
	return fmt.Sprintf("fhirio: the FHIR server answered %d: %s", e.Status, e.Diagnostics)
}

// Post sends a transaction or batch Bundle to the server's base and
// returns its response Bundle. An entry the server refused (a status
// other than 2xx in its response) makes the error a *[BundleError]
// listing them all; the response is returned too.
func (c *Client) Post(ctx context.Context, b fhir.Bundle) (fhir.Bundle, error) {
	var resp fhir.Bundle
	body, err := b.MarshalJSON()
	if err != nil {
		return resp, fmt.Errorf("fhirio: post: %w", err)
	}
	data, err := c.do(ctx, body)
	if err != nil {
		return resp, err
	}
	if err := json.Unmarshal(data, &resp); err != nil {
		return resp, fmt.Errorf("fhirio: the server's answer is not a Bundle: %w", err)
	}
	var refused []EntryError
	for i, e := range resp.Entry {
		if e.Response == nil {
			continue
		}
		if code, _, _ := strings.Cut(e.Response.Status, " "); !strings.HasPrefix(code, "2") {
			refused = append(refused, EntryError{Index: i, Status: e.Response.Status, Diagnostics: diagnostics(e.Response.Outcome)})
		}
	}
	if refused != nil {
		return resp, &BundleError{Entries: refused}
	}
	return resp, nil
}

// do posts body, retrying as the Client says.
func (c *Client) do(ctx context.Context, body []byte) ([]byte, error) {
	hc := c.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	retries := c.Retries
	if retries == 0 {
		retries = 3
	}
	sleep := c.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	wait := time.Second
	for try := 0; ; try++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.BaseURL, "/"), bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("fhirio: post: %w", err)
		}
		req.Header.Set("Content-Type", "application/fhir+json")
		req.Header.Set("Accept", "application/fhir+json")
		if c.Token != "" {
			req.Header.Set("Authorization", "Bearer "+c.Token)
		}
		res, err := hc.Do(req)
		var data []byte
		retryAfter := time.Duration(0)
		if err == nil {
			data, err = io.ReadAll(io.LimitReader(res.Body, 64<<20))
			res.Body.Close()
			if err == nil && res.StatusCode/100 == 2 {
				return data, nil
			}
			if err == nil {
				err = &StatusError{Status: res.StatusCode, Diagnostics: diagnostics(data)}
				if res.StatusCode != http.StatusTooManyRequests && res.StatusCode < 500 {
					return nil, err // retrying cannot change it
				}
				if s, perr := strconv.Atoi(res.Header.Get("Retry-After")); perr == nil && s > 0 {
					retryAfter = time.Duration(s) * time.Second
				}
			}
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if try >= retries {
			var se *StatusError
			if errors.As(err, &se) {
				return nil, err
			}
			return nil, fmt.Errorf("fhirio: post: %w", err)
		}
		d := wait
		if retryAfter > 0 {
			d = retryAfter
		}
		if err := sleep(ctx, d); err != nil {
			return nil, err
		}
		wait *= 2
	}
}

// diagnostics reads the diagnostics of an OperationOutcome, or "".
func diagnostics(data []byte) string {
	var oo fhir.OperationOutcome
	if len(data) == 0 || json.Unmarshal(data, &oo) != nil {
		return ""
	}
	var msgs []string
	for _, is := range oo.Issue {
		if is.Diagnostics != nil {
			msgs = append(msgs, *is.Diagnostics)
		}
	}
	return strings.Join(msgs, "; ")
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
