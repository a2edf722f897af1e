package studio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
)

// Widget types that call out of the flow, and their events. A
// make-http-request widget leaves on success or failed, a run-function
// widget on success or fail.
const (
	TypeHTTPRequest = "make-http-request"
	TypeRunFunction = "run-function"
	EventSuccess    = "success" // make-http-request and run-function: a 2xx answer
	EventFail       = "fail"    // run-function failed (make-http-request uses [EventFailed])
)

// Studio's limits on calls, from the Studio FAQ
// (https://www.twilio.com/docs/studio/user-guide/studio-faq: "Each
// outbound HTTP request from the HTTP Request widget and the Run Function
// widget is limited to 10 seconds") and the Make HTTP Request widget
// (https://www.twilio.com/docs/studio/widget-library/http-request: "The
// HTTP response from the URL must return a 2xx status code within 10
// seconds, and the response body must not exceed 64kB").
const (
	CallTimeout     = 10 * time.Second
	MaxResponseBody = 64 << 10
)

// Parameter is one key/value of a make-http-request or run-function
// widget's parameters.
type Parameter struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// HTTPRequestProperties are the properties of a make-http-request widget.
// Method is GET or POST (empty: GET); ContentType is
// application/x-www-form-urlencoded (the default when empty) or
// application/json, with or without a charset as the console writes it.
// A form request sends Parameters as its body (POST) or query (GET); a
// JSON request sends Body, and Parameters in the query.
type HTTPRequestProperties struct {
	Offset      *Offset     `json:"offset,omitempty"`
	Method      string      `json:"method"`
	URL         string      `json:"url"`
	ContentType string      `json:"content_type,omitempty"`
	Body        string      `json:"body,omitempty"`
	Parameters  []Parameter `json:"parameters,omitempty"`
}

// RunFunctionProperties are the properties of a run-function widget: the
// Twilio Function's URL and SIDs, and the parameters it is called with.
type RunFunctionProperties struct {
	Offset         *Offset     `json:"offset,omitempty"`
	URL            string      `json:"url"`
	FunctionSID    string      `json:"function_sid,omitempty"`
	ServiceSID     string      `json:"service_sid,omitempty"`
	EnvironmentSID string      `json:"environment_sid,omitempty"`
	Parameters     []Parameter `json:"parameters,omitempty"`
}

// Render returns p with its URL, Body and parameter values rendered as
// Liquid over vars (the execution context).
func (p HTTPRequestProperties) Render(vars map[string]any) (HTTPRequestProperties, error) {
	var err error
	if p.URL, err = renderIf(p.URL, vars, "url"); err != nil {
		return p, err
	}
	if p.Body, err = renderIf(p.Body, vars, "body"); err != nil {
		return p, err
	}
	p.Parameters, err = renderParams(p.Parameters, vars)
	return p, err
}

// Render returns p with its parameter values rendered as Liquid over vars
// (the execution context).
func (p RunFunctionProperties) Render(vars map[string]any) (RunFunctionProperties, error) {
	var err error
	p.Parameters, err = renderParams(p.Parameters, vars)
	return p, err
}

func renderParams(ps []Parameter, vars map[string]any) ([]Parameter, error) {
	out := make([]Parameter, len(ps))
	for i, q := range ps {
		v, err := renderIf(q.Value, vars, "parameter "+q.Key)
		if err != nil {
			return nil, err
		}
		out[i] = Parameter{Key: q.Key, Value: v}
	}
	return out, nil
}

func renderIf(tmpl string, vars map[string]any, what string) (string, error) {
	if !strings.Contains(tmpl, "{{") && !strings.Contains(tmpl, "{%") {
		return tmpl, nil
	}
	out, err := Render(tmpl, vars)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// Function is a Go port of a Twilio Function, run by run-function
// widgets: it gets the widget's parameters (rendered) and returns what
// the Function would answer. It must honour ctx, which ends at the call's
// time limit. A returned error fails the widget as a Function that throws
// does (status 500); its text goes into the widget's variables, not into
// logs.
type Function func(ctx context.Context, params map[string]string) (FunctionResult, error)

// FunctionResult is a Function's answer. A zero StatusCode means 200; a
// status outside 2xx fails the widget. An empty ContentType means
// application/json when Body is JSON, text/plain otherwise.
type FunctionResult struct {
	StatusCode  int
	ContentType string
	Body        []byte
}

// JSONResult is a 200 answer of v as JSON, as a Twilio Function's
// callback(null, v) gives.
func JSONResult(v any) (FunctionResult, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return FunctionResult{}, fmt.Errorf("studio: function result: %w", err)
	}
	return FunctionResult{StatusCode: http.StatusOK, ContentType: "application/json", Body: b}, nil
}

// Calls runs make-http-request and run-function widgets for an embedder,
// who decides what a flow may reach. The zero value makes no HTTP request
// and runs no function: every such widget fails, saying why.
//
// Nothing of a request or response (URLs with their queries, bodies,
// parameters) is logged by Calls; results carry only what Studio puts in
// the widget's variables, and a reason naming at most the host.
type Calls struct {
	// AllowHosts lists the hosts make-http-request may call: "host"
	// (any port) or "host:port", compared without case. A request to
	// another host, or redirected to one, is not made: the widget fails
	// with a reason naming the host. Empty allows none.
	AllowHosts []string
	// Client makes the requests; nil means a client with no other
	// settings than the allowlist and the time limit. Its CheckRedirect,
	// if any, is called after the allowlist's.
	Client *http.Client
	// Functions are the Go functions of run-function widgets, keyed by
	// what identifies the Twilio Function: its SID ("ZH..."), its URL
	// ("https://example-1234.twil.io/save-answer"), its path
	// ("/save-answer") or its name ("save-answer"), looked up in that
	// order. A widget with no function fails, naming what it looked for.
	Functions map[string]Function
	// Timeout is the time limit of each call; zero means [CallTimeout],
	// Studio's.
	Timeout time.Duration
}

// CallResult is what a make-http-request or run-function widget gives
// the flow: the event it leaves on and its variables (see
// [CallResult.Vars]).
type CallResult struct {
	// Event is [EventSuccess] for a 2xx answer, else [EventFailed]
	// (make-http-request) or [EventFail] (run-function).
	Event       string
	StatusCode  int    // zero when no answer came
	ContentType string // the answer's Content-Type
	Body        string // the answer, at most [MaxResponseBody] bytes
	// Parsed is Body decoded, when the answer is a JSON object
	// (application/json); nil otherwise. Whole numbers decode as int64,
	// others as float64.
	Parsed map[string]any
	// Error says why the call failed when it did not get a 2xx answer in
	// time (not allowed, no function, time limit, too large, ...); empty
	// on success.
	Error string
}

// Vars returns the widget's variables, as Studio sets them:
// status_code, content_type, body and, for a JSON object, parsed; and
// error when the call failed.
func (r CallResult) Vars() map[string]any {
	v := map[string]any{"status_code": r.StatusCode, "content_type": r.ContentType, "body": r.Body}
	if r.Parsed != nil {
		v["parsed"] = r.Parsed
	}
	if r.Error != "" {
		v["error"] = r.Error
	}
	return v
}

// Errors a failed call's reason wraps (see [CallResult.Error]).
var (
	ErrHostNotAllowed = errors.New("host not allowed")
	ErrNoFunction     = errors.New("no function registered")
)

func (c *Calls) timeout() time.Duration {
	if c == nil || c.Timeout <= 0 {
		return CallTimeout
	}
	return c.Timeout
}

// allowed reports whether host (host or host:port of a URL) is on the
// allowlist.
func (c *Calls) allowed(u *url.URL) bool {
	if c == nil {
		return false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	for _, a := range c.AllowHosts {
		a = strings.ToLower(strings.TrimSpace(a))
		if h, p, err := net.SplitHostPort(a); err == nil {
			if h == host && p == port {
				return true
			}
			continue
		}
		if strings.Trim(a, "[]") == host {
			return true
		}
	}
	return false
}

// HTTPRequest makes the request of a make-http-request widget whose
// properties are already rendered ([HTTPRequestProperties.Render]), as
// Studio does: within the time limit and ctx, to an allowed host only
// (redirects included), reading at most [MaxResponseBody] bytes of the
// answer. A 2xx answer is a success, whatever its body: an answer that
// claims JSON but is not a JSON object has no Parsed. Anything else (a
// status outside 2xx, no answer in time, a body over the cap, a host not
// allowed) fails.
func (c *Calls) HTTPRequest(ctx context.Context, p HTTPRequestProperties) CallResult {
	fail := func(format string, args ...any) CallResult {
		return CallResult{Event: EventFailed, Error: fmt.Sprintf(format, args...)}
	}
	method := strings.ToUpper(strings.TrimSpace(p.Method))
	if method == "" {
		method = http.MethodGet
	}
	if method != http.MethodGet && method != http.MethodPost {
		return fail("method %q: Studio makes GET and POST requests only", p.Method)
	}
	u, err := url.Parse(strings.TrimSpace(p.URL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fail("the URL is not an absolute http or https URL")
	}
	if !c.allowed(u) {
		return fail("%v: %s is not on the allowlist of hosts this flow may call", ErrHostNotAllowed, u.Hostname())
	}
	ctype := strings.TrimSpace(p.ContentType)
	if ctype == "" {
		ctype = "application/x-www-form-urlencoded"
	}
	media, _, err := mime.ParseMediaType(ctype)
	if err != nil {
		return fail("content type %q does not parse", ctype)
	}
	form := url.Values{}
	for _, q := range p.Parameters {
		form.Add(q.Key, q.Value)
	}
	var body io.Reader
	switch {
	case media == "application/x-www-form-urlencoded" && method == http.MethodPost:
		body = strings.NewReader(form.Encode())
	default:
		if len(form) > 0 {
			q := u.Query()
			for k, vs := range form {
				for _, v := range vs {
					q.Add(k, v)
				}
			}
			u.RawQuery = q.Encode()
		}
		if method == http.MethodPost {
			body = strings.NewReader(p.Body)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return fail("the request could not be made")
	}
	if body != nil {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.client().Do(req)
	if err != nil {
		return fail("%s", callError(ctx, err, u.Hostname()))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBody+1))
	switch {
	case err != nil:
		return CallResult{Event: EventFailed, StatusCode: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"),
			Error: callError(ctx, err, u.Hostname())}
	case len(b) > MaxResponseBody:
		return CallResult{Event: EventFailed, StatusCode: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"),
			Error: fmt.Sprintf("the response body is larger than Studio's %d KiB", MaxResponseBody>>10)}
	}
	return answer(resp.StatusCode, resp.Header.Get("Content-Type"), b, EventFailed)
}

// client is c.Client, or a default one, with the allowlist applied to
// redirects.
func (c *Calls) client() *http.Client {
	var cl http.Client
	if c.Client != nil {
		cl = *c.Client
	}
	next := cl.CheckRedirect
	cl.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if !c.allowed(req.URL) {
			return fmt.Errorf("%w: redirected to %s, which is not on the allowlist", ErrHostNotAllowed, req.URL.Hostname())
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &cl
}

// callError says why a call got no answer, naming only the host (an
// *url.Error holds the whole URL, which may carry data or credentials).
func callError(ctx context.Context, err error, host string) string {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Sprintf("no answer from %s within the time limit", host)
	case ctx.Err() != nil:
		return fmt.Sprintf("the call to %s was cancelled", host)
	case errors.Is(err, ErrHostNotAllowed):
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return err.Error()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Sprintf("the call to %s failed: %v", host, err)
}

// answer makes the result of a status, content type and body: success
// for 2xx, failEvent otherwise; parsed for a JSON object.
func answer(status int, ctype string, body []byte, failEvent string) CallResult {
	r := CallResult{Event: EventSuccess, StatusCode: status, ContentType: ctype, Body: string(body)}
	if status < 200 || status > 299 {
		r.Event = failEvent
		r.Error = fmt.Sprintf("status %d", status)
	}
	if media, _, err := mime.ParseMediaType(ctype); err == nil && (media == "application/json" || strings.HasSuffix(media, "+json")) {
		r.Parsed = parseObject(body)
	}
	return r
}

// parseObject decodes a JSON object, with whole numbers as int64; nil if
// b is not one.
func parseObject(b []byte) map[string]any {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return nil
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil
	}
	m, ok := numbers(v).(map[string]any)
	if !ok {
		return nil
	}
	return m
}

func numbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = numbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = numbers(e)
		}
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		if f, err := x.Float64(); err == nil {
			return f
		}
		return x.String()
	}
	return v
}

// RunFunction runs the Go [Function] registered for a run-function
// widget whose properties are already rendered
// ([RunFunctionProperties.Render]), with its parameters (a key given
// twice keeps the last value), within the time limit and ctx. A 2xx
// answer is a success; a function that is not registered, returns an
// error, answers another status, overruns the time limit or answers more
// than [MaxResponseBody] bytes fails the widget.
func (c *Calls) RunFunction(ctx context.Context, p RunFunctionProperties) CallResult {
	fn, name := c.function(p)
	if fn == nil {
		return CallResult{Event: EventFail, Error: fmt.Sprintf("%v for this Twilio Function (%s): register a Go port of it in Calls.Functions", ErrNoFunction, name)}
	}
	params := make(map[string]string, len(p.Parameters))
	for _, q := range p.Parameters {
		params[q.Key] = q.Value
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	res, err := fn(ctx, params)
	switch {
	case ctx.Err() != nil:
		return CallResult{Event: EventFail, Error: fmt.Sprintf("function %s: no answer within the time limit", name)}
	case err != nil:
		return CallResult{Event: EventFail, StatusCode: http.StatusInternalServerError, Error: fmt.Sprintf("function %s: %v", name, err)}
	case len(res.Body) > MaxResponseBody:
		return CallResult{Event: EventFail, StatusCode: res.StatusCode, Error: fmt.Sprintf("function %s: the response body is larger than Studio's %d KiB", name, MaxResponseBody>>10)}
	}
	status := res.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	ctype := res.ContentType
	if ctype == "" {
		ctype = "text/plain; charset=utf-8"
		if json.Valid(res.Body) {
			ctype = "application/json"
		}
	}
	return answer(status, ctype, res.Body, EventFail)
}

// function finds the Function of p, and the name it is known by: the
// SID, URL, path or path's last element.
func (c *Calls) function(p RunFunctionProperties) (Function, string) {
	var keys []string
	if s := strings.TrimSpace(p.FunctionSID); s != "" {
		keys = append(keys, s)
	}
	raw := strings.TrimSpace(p.URL)
	if raw != "" {
		keys = append(keys, raw)
		if u, err := url.Parse(raw); err == nil && u.Path != "" && u.Path != "/" {
			keys = append(keys, u.Path, path.Base(u.Path))
		}
	}
	if len(keys) == 0 {
		return nil, "no SID or URL"
	}
	name := keys[len(keys)-1]
	if c == nil {
		return nil, name
	}
	for _, k := range keys {
		if fn := c.Functions[k]; fn != nil {
			return fn, name
		}
	}
	return nil, name
}
