package studio_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/patient-outreach/sms/studio"
)

// callServer is an httptest.Server on loopback whose handlers the tests
// pick by path; it records the last request it got.
type callServer struct {
	*httptest.Server
	last chan recorded
}

type recorded struct {
	method, query, ctype, body string
}

func newCallServer(t *testing.T) *callServer {
	cs := &callServer{last: make(chan recorded, 16)}
	mux := http.NewServeMux()
	rec := func(r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		cs.last <- recorded{r.Method, r.URL.RawQuery, r.Header.Get("Content-Type"), string(b)}
	}
	mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
		rec(r)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		fmt.Fprint(w, `{"date":"2026-12-07","slot":{"id":12345678901234567,"hours":1.5},"ok":true}`)
	})
	mux.HandleFunc("/text", func(w http.ResponseWriter, r *http.Request) {
		rec(r)
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "saved")
	})
	mux.HandleFunc("/badjson", func(w http.ResponseWriter, r *http.Request) {
		rec(r)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"date":`)
	})
	mux.HandleFunc("/array", func(w http.ResponseWriter, r *http.Request) {
		rec(r)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `[1,2]`)
	})
	mux.HandleFunc("/missing", func(w http.ResponseWriter, r *http.Request) {
		rec(r)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"error":"no such patient"}`)
	})
	mux.HandleFunc("/nocontent", func(w http.ResponseWriter, r *http.Request) {
		rec(r)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		rec(r)
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(make([]byte, studio.MaxResponseBody+1))
	})
	mux.HandleFunc("/block", func(w http.ResponseWriter, r *http.Request) {
		rec(r)
		<-r.Context().Done() // blocks until the client gives up
	})
	mux.HandleFunc("/auth", func(w http.ResponseWriter, r *http.Request) {
		rec(r)
		if u, p, ok := r.BasicAuth(); !ok || u != "ehr" || p != "s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, "in")
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		rec(r)
		http.Redirect(w, r, "/json", http.StatusFound)
	})
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		rec(r)
		http.Redirect(w, r, "http://elsewhere.example/json", http.StatusFound)
	})
	cs.Server = httptest.NewServer(mux)
	t.Cleanup(cs.Close)
	return cs
}

func TestHTTPRequest(t *testing.T) {
	t.Parallel()
	cs := newCallServer(t)
	host := cs.Listener.Addr().String() // 127.0.0.1:PORT
	calls := &studio.Calls{AllowHosts: []string{"api.example.org", host}, Timeout: 100 * time.Millisecond}
	slot := map[string]any{"id": int64(12345678901234567), "hours": 1.5}
	for _, tc := range []struct {
		name   string
		calls  *studio.Calls // nil: calls
		none   bool          // a nil *Calls
		p      studio.HTTPRequestProperties
		event  string
		status int
		parsed map[string]any
		body   string
		errHas string   // in the result's Error
		req    recorded // what the server got; zero: it got nothing
	}{
		{name: "json post", p: studio.HTTPRequestProperties{Method: "POST", URL: cs.URL + "/json", ContentType: "application/json;charset=utf-8", Body: `{"a":1}`},
			event: "success", status: 200, parsed: map[string]any{"date": "2026-12-07", "slot": slot, "ok": true},
			req: recorded{method: "POST", ctype: "application/json;charset=utf-8", body: `{"a":1}`}},
		{name: "form post", p: studio.HTTPRequestProperties{Method: "POST", URL: cs.URL + "/text", ContentType: "application/x-www-form-urlencoded;charset=utf-8",
			Parameters: []studio.Parameter{{Key: "patient", Value: "P 1"}, {Key: "answer", Value: "yes&no"}}},
			event: "success", status: 200, body: "saved",
			req: recorded{method: "POST", ctype: "application/x-www-form-urlencoded;charset=utf-8", body: "answer=yes%26no&patient=P+1"}},
		{name: "form get, default method and type", p: studio.HTTPRequestProperties{URL: cs.URL + "/text?x=1", Parameters: []studio.Parameter{{Key: "id", Value: "7"}}},
			event: "success", status: 200, body: "saved", req: recorded{method: "GET", query: "id=7&x=1"}},
		{name: "204", p: studio.HTTPRequestProperties{Method: "POST", URL: cs.URL + "/nocontent", ContentType: "application/json"},
			event: "success", status: 204, req: recorded{method: "POST", ctype: "application/json"}},
		{name: "redirect followed", p: studio.HTTPRequestProperties{URL: cs.URL + "/redirect"},
			event: "success", status: 200, parsed: map[string]any{"date": "2026-12-07", "slot": slot, "ok": true}, req: recorded{method: "GET"}},
		{name: "not 2xx", p: studio.HTTPRequestProperties{URL: cs.URL + "/missing"},
			event: "failed", status: 404, parsed: map[string]any{"error": "no such patient"}, body: `{"error":"no such patient"}`, errHas: "status 404", req: recorded{method: "GET"}},
		{name: "invalid json is still a success", p: studio.HTTPRequestProperties{URL: cs.URL + "/badjson"},
			event: "success", status: 200, body: `{"date":`, req: recorded{method: "GET"}},
		{name: "a json array is not parsed", p: studio.HTTPRequestProperties{URL: cs.URL + "/array"},
			event: "success", status: 200, body: `[1,2]`, req: recorded{method: "GET"}},
		{name: "timeout", p: studio.HTTPRequestProperties{URL: cs.URL + "/block"},
			event: "failed", errHas: "within the time limit", req: recorded{method: "GET"}},
		{name: "body over the cap", p: studio.HTTPRequestProperties{URL: cs.URL + "/big"},
			event: "failed", status: 200, errHas: "64 KiB", req: recorded{method: "GET"}},
		{name: "basic auth in the URL", p: studio.HTTPRequestProperties{URL: strings.Replace(cs.URL, "http://", "http://ehr:s3cret@", 1) + "/auth"},
			event: "success", status: 200, body: "in", req: recorded{method: "GET"}},
		{name: "host not allowed", p: studio.HTTPRequestProperties{URL: "https://ehr.example.com/inbound?mrn=123"},
			event: "failed", errHas: "ehr.example.com is not on the allowlist"},
		{name: "empty allowlist allows none", calls: &studio.Calls{}, p: studio.HTTPRequestProperties{URL: cs.URL + "/json"},
			event: "failed", errHas: "127.0.0.1 is not on the allowlist"},
		{name: "nil Calls allows none", none: true, p: studio.HTTPRequestProperties{URL: cs.URL + "/json"},
			event: "failed", errHas: "not on the allowlist"},
		{name: "other port not allowed", calls: &studio.Calls{AllowHosts: []string{"127.0.0.1:1"}}, p: studio.HTTPRequestProperties{URL: cs.URL + "/json"},
			event: "failed", errHas: "not on the allowlist"},
		{name: "host without port allows any port", calls: &studio.Calls{AllowHosts: []string{"127.0.0.1"}}, p: studio.HTTPRequestProperties{URL: cs.URL + "/text"},
			event: "success", status: 200, body: "saved", req: recorded{method: "GET"}},
		{name: "redirect to a host not allowed", p: studio.HTTPRequestProperties{URL: cs.URL + "/away"},
			event: "failed", errHas: "redirected to elsewhere.example", req: recorded{method: "GET"}},
		{name: "placeholder URL", p: studio.HTTPRequestProperties{URL: "FILL_WITH_CUSTOM_CALLBACK_URL"},
			event: "failed", errHas: "not an absolute http or https URL"},
		{name: "other method", p: studio.HTTPRequestProperties{Method: "DELETE", URL: cs.URL + "/json"},
			event: "failed", errHas: "GET and POST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := calls
			switch {
			case tc.none:
				c = nil
			case tc.calls != nil:
				c = tc.calls
			}
			got := c.HTTPRequest(context.Background(), tc.p)
			if got.Event != tc.event || got.StatusCode != tc.status || !reflect.DeepEqual(got.Parsed, tc.parsed) {
				t.Errorf("got %s %d parsed %v (error %q); want %s %d parsed %v", got.Event, got.StatusCode, got.Parsed, got.Error, tc.event, tc.status, tc.parsed)
			}
			if tc.body != "" && got.Body != tc.body {
				t.Errorf("body %q, want %q", got.Body, tc.body)
			}
			if (tc.errHas == "") != (got.Error == "") || !strings.Contains(got.Error, tc.errHas) {
				t.Errorf("error %q, want one holding %q", got.Error, tc.errHas)
			}
			if strings.Contains(got.Error, "mrn") || strings.Contains(got.Error, "/inbound") || strings.Contains(got.Error, "s3cret") {
				t.Errorf("the reason shows the URL: %q", got.Error)
			}
			var req recorded
			select {
			case req = <-cs.last:
				for len(cs.last) > 0 { // a redirect: keep the first request
					<-cs.last
				}
			default:
			}
			if req != tc.req {
				t.Errorf("the server got %+v; want %+v", req, tc.req)
			}
			vars := got.Vars()
			if vars["status_code"] != got.StatusCode || vars["body"] != got.Body || vars["content_type"] != got.ContentType {
				t.Errorf("vars %v", vars)
			}
			if _, ok := vars["parsed"]; ok != (got.Parsed != nil) {
				t.Errorf("vars %v: parsed present %v", vars, ok)
			}
			if _, ok := vars["error"]; ok != (got.Error != "") {
				t.Errorf("vars %v: error present %v", vars, ok)
			}
		})
	}
}

// The caller's context bounds the request too.
func TestHTTPRequestCancelled(t *testing.T) {
	t.Parallel()
	cs := newCallServer(t)
	calls := &studio.Calls{AllowHosts: []string{cs.Listener.Addr().String()}}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-cs.last // the request arrived
		cancel()
	}()
	got := calls.HTTPRequest(ctx, studio.HTTPRequestProperties{URL: cs.URL + "/block"})
	if got.Event != studio.EventFailed || !strings.Contains(got.Error, "cancelled") {
		t.Fatalf("%+v", got)
	}
}

func TestHTTPRequestRender(t *testing.T) {
	t.Parallel()
	vars := map[string]any{"flow": map[string]any{"data": map[string]any{"id": "P-7", "base": "https://api.example.org"}}}
	p, err := studio.HTTPRequestProperties{
		URL: "{{flow.data.base}}/patients/{{flow.data.id}}", Body: `{"id":"{{flow.data.id}}"}`,
		Parameters: []studio.Parameter{{Key: "who", Value: "{{flow.data.id | downcase}}"}, {Key: "plain", Value: "x"}},
	}.Render(vars)
	if err != nil {
		t.Fatal(err)
	}
	want := studio.HTTPRequestProperties{URL: "https://api.example.org/patients/P-7", Body: `{"id":"P-7"}`,
		Parameters: []studio.Parameter{{Key: "who", Value: "p-7"}, {Key: "plain", Value: "x"}}}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("%+v", p)
	}
	if _, err := (studio.HTTPRequestProperties{Body: "{{ flow.data.id | }}"}).Render(vars); err == nil || !strings.Contains(err.Error(), "body") {
		t.Fatalf("a bad template: %v", err)
	}
	f, err := studio.RunFunctionProperties{Parameters: []studio.Parameter{{Key: "id", Value: "{{flow.data.id}}"}}}.Render(vars)
	if err != nil || f.Parameters[0].Value != "P-7" {
		t.Fatalf("%+v %v", f, err)
	}
}

func TestRunFunction(t *testing.T) {
	t.Parallel()
	var gotParams map[string]string
	save := func(ctx context.Context, params map[string]string) (studio.FunctionResult, error) {
		gotParams = params
		return studio.JSONResult(map[string]any{"matched": true, "count": 3})
	}
	calls := &studio.Calls{Timeout: 50 * time.Millisecond, Functions: map[string]studio.Function{
		"ZH00000000000000000000000000000001":   save,
		"https://outreach-1234.twil.io/by-url": save,
		"/by-path/x":                           save,
		"save-answer":                          save,
		"erroring": func(context.Context, map[string]string) (studio.FunctionResult, error) {
			return studio.FunctionResult{}, errors.New("chart locked")
		},
		"refusing": func(context.Context, map[string]string) (studio.FunctionResult, error) {
			return studio.FunctionResult{StatusCode: 403, Body: []byte("no")}, nil
		},
		"text": func(context.Context, map[string]string) (studio.FunctionResult, error) {
			return studio.FunctionResult{Body: []byte("plain words")}, nil
		},
		"slow": func(ctx context.Context, _ map[string]string) (studio.FunctionResult, error) {
			<-ctx.Done()
			return studio.FunctionResult{}, ctx.Err()
		},
		"huge": func(context.Context, map[string]string) (studio.FunctionResult, error) {
			return studio.FunctionResult{Body: make([]byte, studio.MaxResponseBody+1)}, nil
		},
	}}
	params := []studio.Parameter{{Key: "answer", Value: "YES"}, {Key: "answer", Value: "NO"}, {Key: "id", Value: "P-1"}}
	ok := map[string]any{"matched": true, "count": int64(3)}
	for _, tc := range []struct {
		name   string
		p      studio.RunFunctionProperties
		event  string
		status int
		parsed map[string]any
		ctype  string
		errHas string
	}{
		{"by SID", studio.RunFunctionProperties{FunctionSID: "ZH00000000000000000000000000000001", URL: "https://x.twil.io/other"}, "success", 200, ok, "application/json", ""},
		{"by URL", studio.RunFunctionProperties{FunctionSID: "YOUR_FUNCTION_SID", URL: "https://outreach-1234.twil.io/by-url"}, "success", 200, ok, "application/json", ""},
		{"by path", studio.RunFunctionProperties{URL: "https://a.twil.io/by-path/x"}, "success", 200, ok, "application/json", ""},
		{"by name", studio.RunFunctionProperties{FunctionSID: "YOUR_FUNCTION_SID", URL: "https://YOUR_ENVIRONMENT_DOMAIN/save-answer"}, "success", 200, ok, "application/json", ""},
		{"unregistered", studio.RunFunctionProperties{FunctionSID: "ZH9", URL: "https://a.twil.io/unknown"}, "fail", 0, nil, "", "no function registered for this Twilio Function (unknown)"},
		{"erroring", studio.RunFunctionProperties{URL: "https://a.twil.io/erroring"}, "fail", 500, nil, "", "function erroring: chart locked"},
		{"not 2xx", studio.RunFunctionProperties{URL: "https://a.twil.io/refusing"}, "fail", 403, nil, "text/plain; charset=utf-8", "status 403"},
		{"text", studio.RunFunctionProperties{URL: "https://a.twil.io/text"}, "success", 200, nil, "text/plain; charset=utf-8", ""},
		{"timeout", studio.RunFunctionProperties{URL: "https://a.twil.io/slow"}, "fail", 0, nil, "", "within the time limit"},
		{"over the cap", studio.RunFunctionProperties{URL: "https://a.twil.io/huge"}, "fail", 0, nil, "", "64 KiB"},
		{"no SID or URL", studio.RunFunctionProperties{}, "fail", 0, nil, "", "no SID or URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.p.Parameters = params
			got := calls.RunFunction(context.Background(), tc.p)
			if got.Event != tc.event || got.StatusCode != tc.status || !reflect.DeepEqual(got.Parsed, tc.parsed) || got.ContentType != tc.ctype {
				t.Errorf("got %s %d %q parsed %v (error %q)", got.Event, got.StatusCode, got.ContentType, got.Parsed, got.Error)
			}
			if (tc.errHas == "") != (got.Error == "") || !strings.Contains(got.Error, tc.errHas) {
				t.Errorf("error %q, want one holding %q", got.Error, tc.errHas)
			}
		})
	}
	if want := map[string]string{"answer": "NO", "id": "P-1"}; !reflect.DeepEqual(gotParams, want) {
		t.Errorf("the function got %v; want %v", gotParams, want)
	}
	var none *studio.Calls
	if got := none.RunFunction(context.Background(), studio.RunFunctionProperties{URL: "https://a.twil.io/x"}); got.Event != "fail" {
		t.Errorf("nil Calls: %+v", got)
	}
}

// An EHR team ports the Twilio Function its flow calls to Go, and lets
// the flow's make-http-request widgets reach its own API only.
func ExampleCalls() {
	calls := &studio.Calls{
		AllowHosts: []string{"ehr.example.org"},
		Functions: map[string]studio.Function{
			// The run-function widget's URL ends in /save-answer.
			"save-answer": func(ctx context.Context, params map[string]string) (studio.FunctionResult, error) {
				// ... store params["answer"] for params["patient_id"] ...
				return studio.JSONResult(map[string]any{"saved": true})
			},
		},
	}
	fn := studio.RunFunctionProperties{
		URL:        "https://outreach-1234-dev.twil.io/save-answer",
		Parameters: []studio.Parameter{{Key: "patient_id", Value: "{{flow.data.patient_id}}"}, {Key: "answer", Value: "{{widgets.ask.inbound.Body}}"}},
	}
	vars := map[string]any{
		"flow":    map[string]any{"data": map[string]any{"patient_id": "P-1"}},
		"widgets": map[string]any{"ask": map[string]any{"inbound": map[string]any{"Body": "YES"}}},
	}
	fn, err := fn.Render(vars)
	if err != nil {
		panic(err)
	}
	r := calls.RunFunction(context.Background(), fn)
	fmt.Println(r.Event, r.StatusCode, r.Parsed["saved"])

	r = calls.HTTPRequest(context.Background(), studio.HTTPRequestProperties{Method: "POST", URL: "https://tracker.example.com/hit"})
	fmt.Println(r.Event, r.Error)
	// Output:
	// success 200 true
	// failed host not allowed: tracker.example.com is not on the allowlist of hosts this flow may call
}
