package twiliotest

import (
	"crypto/subtle"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Endpoint names one operation of the fake, for fault injection and
// request counts.
type Endpoint string

// The endpoints the fake serves.
const (
	// AnyEndpoint matches every endpoint in [Server.SetFault].
	AnyEndpoint Endpoint = "*"

	CreateMessage Endpoint = "messages.create" // POST /2010-04-01/Accounts/{AccountSid}/Messages.json
	FetchMessage  Endpoint = "messages.fetch"  // GET  /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json
	ListMessages  Endpoint = "messages.list"   // GET  /2010-04-01/Accounts/{AccountSid}/Messages.json

	ListNumbers  Endpoint = "numbers.list"   // GET  /2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json
	FetchNumber  Endpoint = "numbers.fetch"  // GET  /2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers/{Sid}.json
	UpdateNumber Endpoint = "numbers.update" // POST /2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers/{Sid}.json

	ListMessagingServices  Endpoint = "messaging.services.list"   // GET  https://messaging.twilio.com/v1/Services
	FetchMessagingService  Endpoint = "messaging.services.fetch"  // GET  https://messaging.twilio.com/v1/Services/{Sid}
	UpdateMessagingService Endpoint = "messaging.services.update" // POST https://messaging.twilio.com/v1/Services/{Sid}

	CreateVerifyService Endpoint = "verify.services.create" // POST https://verify.twilio.com/v2/Services
	ListVerifyServices  Endpoint = "verify.services.list"   // GET  https://verify.twilio.com/v2/Services
	FetchVerifyService  Endpoint = "verify.services.fetch"  // GET  https://verify.twilio.com/v2/Services/{Sid}
	CreateVerification  Endpoint = "verify.verifications.create"
	FetchVerification   Endpoint = "verify.verifications.fetch"
	CheckVerification   Endpoint = "verify.verificationcheck.create"

	CreateFlow                Endpoint = "studio.flows.create"       // POST   https://studio.twilio.com/v2/Flows
	ListFlows                 Endpoint = "studio.flows.list"         // GET    https://studio.twilio.com/v2/Flows
	FetchFlow                 Endpoint = "studio.flows.fetch"        // GET    https://studio.twilio.com/v2/Flows/{Sid}
	UpdateFlow                Endpoint = "studio.flows.update"       // POST   https://studio.twilio.com/v2/Flows/{Sid}
	DeleteFlow                Endpoint = "studio.flows.delete"       // DELETE https://studio.twilio.com/v2/Flows/{Sid}
	ValidateFlow              Endpoint = "studio.flows.validate"     // POST   https://studio.twilio.com/v2/Flows/Validate
	ListFlowRevisions         Endpoint = "studio.revisions.list"     // GET    .../v2/Flows/{Sid}/Revisions
	FetchFlowRevision         Endpoint = "studio.revisions.fetch"    // GET    .../v2/Flows/{Sid}/Revisions/{Revision}
	CreateExecution           Endpoint = "studio.executions.create"  // POST   .../v2/Flows/{FlowSid}/Executions
	ListExecutions            Endpoint = "studio.executions.list"    // GET    .../v2/Flows/{FlowSid}/Executions
	FetchExecution            Endpoint = "studio.executions.fetch"   // GET    .../v2/Flows/{FlowSid}/Executions/{Sid}
	UpdateExecution           Endpoint = "studio.executions.update"  // POST   .../v2/Flows/{FlowSid}/Executions/{Sid}
	DeleteExecution           Endpoint = "studio.executions.delete"  // DELETE .../v2/Flows/{FlowSid}/Executions/{Sid}
	FetchExecutionContext     Endpoint = "studio.executions.context" // GET    .../Executions/{Sid}/Context
	ListExecutionSteps        Endpoint = "studio.steps.list"         // GET    .../Executions/{Sid}/Steps
	FetchExecutionStep        Endpoint = "studio.steps.fetch"        // GET    .../Executions/{Sid}/Steps/{StepSid}
	FetchExecutionStepContext Endpoint = "studio.steps.context"      // GET    .../Steps/{StepSid}/Context
)

// Fault is a failure injected into an endpoint (see [Server.SetFault]).
// Latency applies first; then Status, if set, answers with that error
// without processing the request; else Hijack, if set, processes the
// request (a message is stored and delivered) and then closes the
// connection without answering, so the client sees a transport error
// and cannot tell whether the request took effect.
type Fault struct {
	// Latency delays the answer, in real time (not the server's clock).
	// The wait ends early when the client goes away or the server closes.
	Latency time.Duration
	// Status answers with this HTTP status and a Twilio error body:
	// 429 (code 20429, with a Retry-After header), 500 (code 20500), 503
	// (code 20503) or another status (code 20500).
	Status int
	// RetryAfter is the Retry-After header sent with Status 429; zero
	// means 1 second. It is rounded up to whole seconds.
	RetryAfter time.Duration
	// Hijack processes the request, then drops the connection unanswered.
	Hijack bool
	// Times is how many requests the fault applies to; zero means every
	// request until the fault is replaced or cleared.
	Times int
	// Probability, if set (0 to 1), is the chance that a request gets the
	// fault: the faults of an endpoint added with [Server.AddFault] then
	// share one draw per request, so that AddFault of 10% 429s and 5% 500s
	// fails 15% of the requests. Zero means every request. The draws come
	// from Options.Seed.
	Probability float64

	hits int // requests that got it
}

// SetFault makes requests to ep fail with f, replacing the endpoint's
// previous fault; the zero Fault clears it. A fault set for ep applies
// before one set for [AnyEndpoint].
func (s *Server) SetFault(ep Endpoint, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == (Fault{}) {
		delete(s.faults, ep)
		return
	}
	s.faults[ep] = []*Fault{&f}
}

// AddFault adds f to the faults of ep, after those it has. A request to
// ep gets the first of them that applies: one without a Probability, or
// one whose share of a single draw per request the draw falls in (see
// [Fault.Probability]). A mix of random faults is several AddFault:
//
//	srv.AddFault(twiliotest.CreateMessage, twiliotest.Fault{Status: 429, Probability: 0.10})
//	srv.AddFault(twiliotest.CreateMessage, twiliotest.Fault{Status: 500, Probability: 0.05})
//	srv.AddFault(twiliotest.CreateMessage, twiliotest.Fault{Hijack: true, Probability: 0.02})
func (s *Server) AddFault(ep Endpoint, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[ep] = append(s.faults[ep], &f)
}

// FaultCounts returns how many requests got each fault of ep, in the
// order they were added: the counts of a random mix.
func (s *Server) FaultCounts(ep Endpoint) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]int, len(s.faults[ep]))
	for i, f := range s.faults[ep] {
		out[i] = f.hits
	}
	return out
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults)
}

// Requests returns how many authenticated requests reached ep (faulted
// ones included).
func (s *Server) Requests(ep Endpoint) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[ep]
}

// takeFault counts a request to ep and returns the fault that applies to
// it, if any.
func (s *Server) takeFault(ep Endpoint) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts[ep]++
	for _, k := range []Endpoint{ep, AnyEndpoint} {
		fs := s.faults[k]
		if len(fs) == 0 {
			continue
		}
		u, cum := -1.0, 0.0
		for i, p := range fs {
			if p.Probability > 0 {
				if u < 0 {
					u = s.rnd.Float64()
				}
				cum += p.Probability
				if u >= cum {
					continue
				}
			}
			p.hits++
			f := *p
			if p.Times > 0 {
				p.Times--
				if p.Times == 0 {
					fs = slices.Delete(fs, i, i+1)
					if len(fs) == 0 {
						delete(s.faults, k)
					} else {
						s.faults[k] = fs
					}
				}
			}
			return &f
		}
	}
	return nil
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, p map[string]string)

type route struct {
	method string
	segs   []string
	ep     Endpoint
	h      handlerFunc
}

// match reports whether path matches the route's pattern, and its
// parameters. A pattern segment "{name}" matches any segment and
// "{name}.json" any segment ending in ".json".
func (rt *route) match(path string) (map[string]string, bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	if len(segs) != len(rt.segs) {
		return nil, false
	}
	var p map[string]string
	for i, ps := range rt.segs {
		s := segs[i]
		if !strings.HasPrefix(ps, "{") {
			if ps != s {
				return nil, false
			}
			continue
		}
		name, suffix, _ := strings.Cut(ps[1:], "}")
		if !strings.HasSuffix(s, suffix) || len(s) == len(suffix) {
			return nil, false
		}
		if p == nil {
			p = make(map[string]string)
		}
		p[name] = strings.TrimSuffix(s, suffix)
	}
	return p, true
}

func (s *Server) buildRoutes() []route {
	r := func(method, pattern string, ep Endpoint, h handlerFunc) route {
		return route{method: method, segs: strings.Split(strings.Trim(pattern, "/"), "/"), ep: ep, h: h}
	}
	const acct = "/2010-04-01/Accounts/{acct}"
	return []route{
		r(http.MethodPost, acct+"/Messages.json", CreateMessage, s.createMessage),
		r(http.MethodGet, acct+"/Messages.json", ListMessages, s.listMessages),
		r(http.MethodGet, acct+"/Messages/{sid}.json", FetchMessage, s.fetchMessage),
		r(http.MethodGet, acct+"/IncomingPhoneNumbers.json", ListNumbers, s.listNumbers),
		r(http.MethodGet, acct+"/IncomingPhoneNumbers/{sid}.json", FetchNumber, s.fetchNumber),
		r(http.MethodPost, acct+"/IncomingPhoneNumbers/{sid}.json", UpdateNumber, s.updateNumber),
		r(http.MethodGet, "/v1/Services", ListMessagingServices, s.listMessagingServices),
		r(http.MethodGet, "/v1/Services/{sid}", FetchMessagingService, s.fetchMessagingService),
		r(http.MethodPost, "/v1/Services/{sid}", UpdateMessagingService, s.updateMessagingService),
		r(http.MethodPost, "/v2/Services", CreateVerifyService, s.createService),
		r(http.MethodGet, "/v2/Services", ListVerifyServices, s.listServices),
		r(http.MethodGet, "/v2/Services/{sid}", FetchVerifyService, s.fetchService),
		r(http.MethodPost, "/v2/Services/{svc}/Verifications", CreateVerification, s.createVerification),
		r(http.MethodGet, "/v2/Services/{svc}/Verifications/{sid}", FetchVerification, s.fetchVerification),
		r(http.MethodPost, "/v2/Services/{svc}/VerificationCheck", CheckVerification, s.checkVerification),
		r(http.MethodPost, "/v2/Flows", CreateFlow, s.createFlow),
		r(http.MethodGet, "/v2/Flows", ListFlows, s.listFlows),
		r(http.MethodPost, "/v2/Flows/Validate", ValidateFlow, s.validateFlow), // before /v2/Flows/{sid}
		r(http.MethodGet, "/v2/Flows/{sid}", FetchFlow, s.fetchFlow),
		r(http.MethodPost, "/v2/Flows/{sid}", UpdateFlow, s.updateFlow),
		r(http.MethodDelete, "/v2/Flows/{sid}", DeleteFlow, s.deleteFlow),
		r(http.MethodGet, "/v2/Flows/{sid}/Revisions", ListFlowRevisions, s.listFlowRevisions),
		r(http.MethodGet, "/v2/Flows/{sid}/Revisions/{rev}", FetchFlowRevision, s.fetchFlowRevision),
		r(http.MethodPost, "/v2/Flows/{flow}/Executions", CreateExecution, s.createExecution),
		r(http.MethodGet, "/v2/Flows/{flow}/Executions", ListExecutions, s.listExecutions),
		r(http.MethodGet, "/v2/Flows/{flow}/Executions/{sid}", FetchExecution, s.fetchExecution),
		r(http.MethodPost, "/v2/Flows/{flow}/Executions/{sid}", UpdateExecution, s.updateExecution),
		r(http.MethodDelete, "/v2/Flows/{flow}/Executions/{sid}", DeleteExecution, s.deleteExecution),
		r(http.MethodGet, "/v2/Flows/{flow}/Executions/{sid}/Context", FetchExecutionContext, s.fetchExecutionContext),
		r(http.MethodGet, "/v2/Flows/{flow}/Executions/{sid}/Steps", ListExecutionSteps, s.listExecutionSteps),
		r(http.MethodGet, "/v2/Flows/{flow}/Executions/{sid}/Steps/{step}", FetchExecutionStep, s.fetchExecutionStep),
		r(http.MethodGet, "/v2/Flows/{flow}/Executions/{sid}/Steps/{step}/Context", FetchExecutionStepContext, s.fetchExecutionStepContext),
	}
}

// serveHTTP authenticates, routes and applies faults.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	user, pass, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(s.accountSID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(pass), []byte(s.authToken)) != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
		writeError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	var (
		rt     *route
		params map[string]string
		found  bool
	)
	for i := range s.routes {
		p, ok := s.routes[i].match(r.URL.Path)
		if !ok {
			continue
		}
		found = true
		if s.routes[i].method == r.Method {
			rt, params = &s.routes[i], p
			break
		}
	}
	switch {
	case rt == nil && found:
		writeError(w, http.StatusMethodNotAllowed, 20004, "Method not allowed")
		return
	case rt == nil:
		notFound(w, r)
		return
	case params["acct"] != "" && params["acct"] != s.accountSID:
		notFound(w, r)
		return
	}

	f := s.takeFault(rt.ep)
	if f == nil {
		rt.h(w, r, params)
		return
	}
	if f.Latency > 0 {
		t := time.NewTimer(f.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		case <-s.done:
			t.Stop()
			writeError(w, http.StatusServiceUnavailable, 20503, "Service unavailable: the fake Twilio server is closing")
			return
		}
	}
	switch {
	case f.Status == http.StatusTooManyRequests:
		ra := f.RetryAfter
		if ra <= 0 {
			ra = time.Second
		}
		w.Header().Set("Retry-After", strconv.FormatInt(int64((ra+time.Second-1)/time.Second), 10))
		writeError(w, http.StatusTooManyRequests, 20429, "Too Many Requests")
	case f.Status == http.StatusServiceUnavailable:
		writeError(w, f.Status, 20503, "Service unavailable")
	case f.Status != 0:
		writeError(w, f.Status, 20500, "Internal Server Error")
	case f.Hijack:
		rt.h(httptest.NewRecorder(), r, params)
		hj, ok := w.(http.Hijacker)
		if !ok {
			panic("twiliotest: the connection cannot be hijacked")
		}
		conn, _, err := hj.Hijack()
		if err == nil {
			_ = conn.Close()
		}
	default:
		rt.h(w, r, params)
	}
}
