package twiliotest

import (
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"

	"github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/simphone"
)

// Options configure a [Server]. The zero value is ready to use.
type Options struct {
	// AccountSID is the account's SID; empty means "AC" and 32 random hex
	// digits.
	AccountSID string
	// AuthToken is the account's auth token, used for HTTP Basic auth and
	// to sign webhooks; empty means 32 random hex digits. Like Twilio's,
	// it must be alphanumeric (twilio-go refuses other credentials).
	AuthToken string
	// Clock dates messages and schedules status callbacks and replies; nil
	// means [outreach.SystemClock]. Use the clock of the Network.
	Clock outreach.Clock
	// Network is the simulated carrier and phones that messages are
	// delivered to; nil means a new network on Clock with no phones (every
	// To is then unreachable, error 21612, until phones are added to
	// [Server.Network]). The server consumes the network's replies and
	// delivery reports (see [Server.Step]): nothing else should.
	Network *simphone.Network
	// Numbers are provisioned at start, as with [Server.AddNumber].
	Numbers []string
	// ReorderCallbacks is the probability (0 to 1) that a status callback
	// is held back until after the message's final status callback, so
	// that it arrives out of order.
	ReorderCallbacks float64
	// DuplicateCallbacks is the probability (0 to 1) that a status callback
	// is sent a second time, shortly after the first.
	DuplicateCallbacks float64
	// Seed seeds the random choices of ReorderCallbacks and
	// DuplicateCallbacks.
	Seed uint64
	// Studio, if set, runs the Studio executions created through the API
	// (see [ExecutionRunner]); nil leaves them active until ended or
	// deleted through the API. [Server.SetExecutionRunner] changes it.
	Studio ExecutionRunner
	// ExecutionsPerSecond limits Studio execution creates, as Twilio's
	// rate limit does: a create request beyond this many within any one
	// second of the server's clock is answered 429 (code 20429, header
	// Retry-After: 1) and creates nothing. Zero means no limit. Refused
	// requests do not count towards the limit; [Server.Requests] with
	// [CreateExecution] counts every request, refused ones included.
	ExecutionsPerSecond int
	// WebhookConcurrency, if above 1, is how many webhooks [Server.Step]
	// and [Server.Run] POST at once, as Twilio does: the status callbacks
	// of messages to different phones, and the texts of different phones,
	// in parallel; those of one phone in order. (Texts go one at a time
	// while a timer of [Server.AfterFunc] is due with them.) Zero or 1
	// posts one at a time.
	WebhookConcurrency int
	// OnWebhookError, if set, is called by [Server.Run] with each webhook
	// that could not be delivered (a transport error or a non-2xx answer)
	// and each error a [ReplyRunner] returned. [Server.Step]
	// returns such errors instead.
	OnWebhookError func(error)
}

// Server is a fake Twilio REST API on a loopback [httptest.Server]. It is
// safe for concurrent use.
type Server struct {
	ts         *httptest.Server
	accountSID string
	authToken  string
	clock      outreach.Clock
	net        *simphone.Network
	opts       Options
	hook       *http.Client
	routes     []route
	done       chan struct{}
	closeOnce  sync.Once

	mu       sync.Mutex
	rnd      *rand.Rand
	msgs     []*message // in creation order
	bySID    map[string]*message
	numbers  []*number
	services []*mservice // Messaging Services, in creation order
	events   []event
	seq      uint64
	faults   map[Endpoint][]*Fault
	counts   map[Endpoint]int
	wake     chan struct{}
	timers   []*timer        // in due order
	optOuts  map[string]bool // number|phone pairs opted out by a keyword
	verify   verifyState
	studio   studioState
}

// New starts a fake Twilio server on loopback. Close it when done.
func New(opts Options) *Server {
	if opts.Clock == nil {
		opts.Clock = outreach.SystemClock{}
	}
	if opts.Network == nil {
		opts.Network = simphone.New(opts.Clock, opts.Seed)
	}
	if opts.AccountSID == "" {
		opts.AccountSID = "AC" + randomHex(16)
	}
	if opts.AuthToken == "" {
		opts.AuthToken = randomHex(16)
	}
	s := &Server{
		accountSID: opts.AccountSID,
		authToken:  opts.AuthToken,
		clock:      opts.Clock,
		net:        opts.Network,
		opts:       opts,
		hook:       &http.Client{Timeout: 10 * time.Second},
		done:       make(chan struct{}),
		rnd:        rand.New(rand.NewPCG(opts.Seed, 0x7a11)),
		bySID:      make(map[string]*message),
		faults:     make(map[Endpoint][]*Fault),
		counts:     make(map[Endpoint]int),
		optOuts:    make(map[string]bool),
		wake:       make(chan struct{}),
		studio:     studioState{execs: make(map[string]*execution), runner: opts.Studio},
	}
	s.routes = s.buildRoutes()
	for _, n := range opts.Numbers {
		s.AddNumber(n)
	}
	s.ts = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	return s
}

// Close shuts the server down, abandoning injected latencies, and waits
// for the requests in progress. Stop [Server.Run] before.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.done) })
	s.ts.Close()
	s.hook.CloseIdleConnections()
}

// URL is the server's base URL, such as "http://127.0.0.1:41234".
func (s *Server) URL() string { return s.ts.URL }

// AccountSID is the account's SID.
func (s *Server) AccountSID() string { return s.accountSID }

// AuthToken is the account's auth token: the Basic auth password, and
// the key webhooks are signed with.
func (s *Server) AuthToken() string { return s.authToken }

// Network is the simulated network messages are delivered to.
func (s *Server) Network() *simphone.Network { return s.net }

// HTTPClient returns an http.Client that sends every request to the fake,
// whatever its scheme and host (api.twilio.com, verify.twilio.com, ...,
// pagination links included). The original host is passed on in the
// X-Forwarded-Host header. Like twilio-go's default client, it does not
// follow redirects.
func (s *Server) HTTPClient() *http.Client {
	return &http.Client{
		Transport: &rewriteTransport{target: s.ts.Listener.Addr().String(), base: s.ts.Client().Transport},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Client returns the real twilio-go client, authenticated as the account
// and pointed at the fake through [Server.HTTPClient].
func (s *Server) Client() *twilio.RestClient {
	return s.ClientWithCredentials(s.accountSID, s.authToken)
}

// ClientWithCredentials is [Server.Client] with other credentials, to test
// what happens when they are wrong (HTTP 401, code 20003).
func (s *Server) ClientWithCredentials(accountSID, authToken string) *twilio.RestClient {
	c := &client.Client{
		Credentials: client.NewCredentials(accountSID, authToken),
		HTTPClient:  s.HTTPClient(),
	}
	c.SetAccountSid(accountSID)
	rc := twilio.NewRestClientWithParams(twilio.ClientParams{Client: c})
	rc.SetEdge("")
	rc.SetRegion("")
	return rc
}

// rewriteTransport sends every request to target over base.
type rewriteTransport struct {
	target string
	base   http.RoundTripper
}

func (t *rewriteTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Header.Set("X-Forwarded-Host", req.URL.Host)
	r.URL.Scheme = "http"
	r.URL.Host = t.target
	r.Host = ""
	return t.base.RoundTrip(r)
}

// Error is the body of a Twilio error answer.
type Error struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, Error{
		Code:     code,
		Message:  msg,
		MoreInfo: "https://www.twilio.com/docs/errors/" + strconv.Itoa(code),
		Status:   status,
	})
}

func notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = crand.Read(b)
	return hex.EncodeToString(b)
}

// sid returns a new SID with prefix, "SM" or "PN" for example. Called with
// s.mu held.
func (s *Server) sid(prefix string) string {
	return fmt.Sprintf("%s%016x%016x", prefix, s.rnd.Uint64(), s.rnd.Uint64())
}
