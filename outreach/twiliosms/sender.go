package twiliosms

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/patient-outreach/sms/internal/twiliocall"
	"github.com/patient-outreach/sms/outreach"
)

// DefaultTimeout bounds one call to Twilio when Config.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// MaxValidityPeriod is the longest ValidityPeriod Twilio accepts: 10 hours.
const MaxValidityPeriod = 36000 * time.Second

// Config configures a [Sender].
type Config struct {
	// AccountSID and AuthToken are the Twilio account's credentials
	// (alphanumeric, as twilio-go requires).
	AccountSID string
	AuthToken  string
	// From is the sending number in E.164 (+15005550006). Give From, or
	// MessagingServiceSID, or both (Twilio then sends from From through
	// the service).
	From string
	// MessagingServiceSID ("MG...") sends through a Messaging Service,
	// which picks the number from its sender pool.
	MessagingServiceSID string
	// StatusCallbackURL, if set, is the full public URL of the status
	// webhook (see [StatusHandler]) that Twilio reports delivery to.
	StatusCallbackURL string
	// HTTPClient supplies the base transport (its Transport; nil means
	// http.DefaultTransport). Point it at a fake Twilio with
	// twiliotest.Server.HTTPClient. Its Timeout is ignored: see Timeout.
	HTTPClient *http.Client
	// Timeout bounds each call to Twilio; zero means [DefaultTimeout].
	Timeout time.Duration
	// Clock tells the time for ValidityPeriod and Retry-After dates; nil
	// means the system clock. Use the runner's clock.
	Clock outreach.Clock
}

var alphanumeric = regexp.MustCompile(`^[A-Za-z0-9]+$`)

// Sender is an [outreach.Sender] on the Twilio Messages API, through the
// twilio-go client. It is safe for concurrent use. It never throttles
// and never retries: it reports what happened as an *outreach.SendError
// and the runner decides.
type Sender struct {
	cfg    Config
	caller twiliocall.Caller
}

var _ outreach.Sender = (*Sender)(nil)

// NewSender checks cfg and returns a Sender.
func NewSender(cfg Config) (*Sender, error) {
	switch {
	case cfg.AccountSID == "" || cfg.AuthToken == "":
		return nil, errors.New("twiliosms: Config needs AccountSID and AuthToken")
	case !alphanumeric.MatchString(cfg.AccountSID) || !alphanumeric.MatchString(cfg.AuthToken):
		return nil, errors.New("twiliosms: AccountSID and AuthToken must be alphanumeric (copy them from the Twilio console)")
	case cfg.From == "" && cfg.MessagingServiceSID == "":
		return nil, errors.New("twiliosms: Config needs From (an E.164 number) or MessagingServiceSID")
	case cfg.From != "" && !outreach.IsE164(cfg.From):
		return nil, fmt.Errorf("twiliosms: From %s is not an E.164 number such as +15005550006", outreach.MaskPhone(cfg.From))
	case cfg.MessagingServiceSID != "" && !strings.HasPrefix(cfg.MessagingServiceSID, "MG"):
		return nil, errors.New("twiliosms: MessagingServiceSID must start with MG")
	case cfg.Timeout < 0:
		return nil, errors.New("twiliosms: Timeout must not be negative")
	}
	if cfg.StatusCallbackURL != "" {
		u, err := url.Parse(cfg.StatusCallbackURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, errors.New("twiliosms: StatusCallbackURL must be a full http(s) URL")
		}
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Clock == nil {
		cfg.Clock = outreach.SystemClock{}
	}
	s := &Sender{cfg: cfg, caller: twiliocall.Caller{AccountSID: cfg.AccountSID, AuthToken: cfg.AuthToken, Timeout: cfg.Timeout}}
	if cfg.HTTPClient != nil {
		s.caller.Base = cfg.HTTPClient.Transport
	}
	return s, nil
}

// call runs fn with a twilio-go API service whose every request carries
// ctx, bounded by the per-call timeout (see internal/twiliocall).
func (s *Sender) call(ctx context.Context, fn func(*openapi.ApiService) error) (twiliocall.Response, error) {
	return s.caller.Do(ctx, func(c *client.Client) error {
		return fn(openapi.NewApiServiceWithClient(c))
	})
}

// Send submits m with the Messages API and returns the message SID. The
// body goes as given; From is m.From when it is an E.164 number, else
// Config.From (or the Messaging Service picks). ValidityPeriod is the
// time left until m.ValidUntil, at most [MaxValidityPeriod].
//
// Errors are *outreach.SendError:
//   - Permanent: Twilio refused the message (4xx, Code set); 21610 sets
//     OptedOut.
//   - Retryable: nothing was processed: HTTP 429 or code 20429
//     (RetryAfter from the Retry-After header), bad credentials (401),
//     a connection that could not be made, a context already done, or a
//     sending window already over.
//   - Ambiguous: Twilio may have the message: 5xx, a timeout or
//     cancellation in flight, a connection lost, an unreadable answer.
//     Reconcile with [Sender.Lookup].
func (s *Sender) Send(ctx context.Context, m outreach.OutboundMessage) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", &outreach.SendError{Kind: outreach.Retryable, Reason: "context done before the request was sent", Err: err}
	}
	p := &openapi.CreateMessageParams{}
	p.SetTo(m.To).SetBody(m.Body)
	if from := s.from(m); from != "" {
		p.SetFrom(from)
	}
	if s.cfg.MessagingServiceSID != "" {
		p.SetMessagingServiceSid(s.cfg.MessagingServiceSID)
	}
	if s.cfg.StatusCallbackURL != "" {
		p.SetStatusCallback(s.cfg.StatusCallbackURL)
	}
	if !m.ValidUntil.IsZero() {
		left := m.ValidUntil.Sub(s.cfg.Clock.Now())
		if left <= 0 {
			return "", &outreach.SendError{Kind: outreach.Retryable, Reason: "the recipient's sending window is over; nothing was sent"}
		}
		secs := min(int(left/time.Second), int(MaxValidityPeriod/time.Second))
		p.SetValidityPeriod(max(secs, 1))
	}
	var msg *openapi.ApiV2010Message
	resp, err := s.call(ctx, func(api *openapi.ApiService) (err error) {
		msg, err = api.CreateMessage(p)
		return err
	})
	if err != nil {
		return "", s.classify(resp, err)
	}
	if msg == nil || msg.Sid == nil || *msg.Sid == "" {
		return "", &outreach.SendError{Kind: outreach.Ambiguous, Reason: "Twilio answered with no message SID"}
	}
	return *msg.Sid, nil
}

// from is the From number to send m with.
func (s *Sender) from(m outreach.OutboundMessage) string {
	if outreach.IsE164(m.From) {
		return m.From
	}
	return s.cfg.From
}

// classify turns a failed call into an *outreach.SendError.
func (s *Sender) classify(resp twiliocall.Response, err error) *outreach.SendError {
	status, header := resp.Status, resp.Header
	var te *client.TwilioRestError
	if errors.As(err, &te) {
		code := strconv.Itoa(te.Code)
		httpStatus := te.Status
		if httpStatus == 0 {
			httpStatus = status
		}
		reason := te.Message
		switch {
		case te.Code == 21610:
			return &outreach.SendError{Kind: outreach.Permanent, Code: code, OptedOut: true, Reason: "the recipient opted out (replied STOP)", Err: err}
		case httpStatus == http.StatusTooManyRequests || te.Code == 20429:
			return &outreach.SendError{Kind: outreach.Retryable, Code: code, Reason: "Twilio is rate limiting (not processed)", RetryAfter: s.retryAfter(header), Err: err}
		case httpStatus == http.StatusUnauthorized || httpStatus == http.StatusForbidden:
			return &outreach.SendError{Kind: outreach.Retryable, Code: code, Reason: "Twilio refused the credentials: check AccountSID and AuthToken (not processed)", Err: err}
		case httpStatus >= 500:
			return &outreach.SendError{Kind: outreach.Ambiguous, Code: code, Reason: "Twilio server error: the message may have been accepted", Err: err}
		default:
			return &outreach.SendError{Kind: outreach.Permanent, Code: code, Reason: reason, Err: err}
		}
	}
	if errors.Is(err, twiliocall.ErrNotSent) {
		return &outreach.SendError{Kind: outreach.Retryable, Reason: "context done before the request was sent", Err: err}
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		return &outreach.SendError{Kind: outreach.Retryable, Reason: "could not connect to Twilio (nothing sent)", Err: err}
	}
	// An HTTP error whose body was not a Twilio error (a proxy, say).
	switch {
	case status == http.StatusTooManyRequests:
		return &outreach.SendError{Kind: outreach.Retryable, Reason: "rate limited (not processed)", RetryAfter: s.retryAfter(header), Err: err}
	case status >= 400 && status < 500:
		return &outreach.SendError{Kind: outreach.Permanent, Code: strconv.Itoa(status), Reason: "HTTP error from Twilio or a proxy", Err: err}
	}
	return &outreach.SendError{Kind: outreach.Ambiguous, Reason: "no clear answer from Twilio: the message may have been accepted", Err: err}
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func (s *Sender) retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(s.cfg.Clock.Now()), 0)
	}
	return 0
}

// lookupPageSize and lookupMaxPages bound a Lookup: at most 2,000 of the
// newest messages between the two numbers are read.
const (
	lookupPageSize = 100
	lookupMaxPages = 20
)

// acceptedStatus are the statuses of a message Twilio accepted.
var acceptedStatus = map[string]bool{
	"accepted": true, "scheduled": true, "queued": true, "sending": true, "sent": true,
	"delivered": true, "undelivered": true, "failed": true, "read": true,
}

// Lookup reports whether Twilio accepted m, whose intent was recorded at
// intentAt: it lists the Messages to m.To from the sending number,
// newest first, and looks for one with m's body created at or after
// intentAt (to the second: Twilio dates have no fraction). A message
// still queued, or later failed or undelivered, counts as found: Twilio
// accepted it. DateSent is not used as a filter, since it is empty while
// a message is queued; the listing stops at the first message sent
// before intentAt. Twilio has no idempotency key: two identical texts to
// the same number within the same second cannot be told apart.
func (s *Sender) Lookup(ctx context.Context, m outreach.OutboundMessage, intentAt time.Time) (string, bool, error) {
	if err := ctx.Err(); err != nil {
		return "", false, err
	}
	since := intentAt.Truncate(time.Second)
	p := &openapi.ListMessageParams{}
	p.SetTo(m.To).SetPageSize(lookupPageSize)
	if from := s.from(m); from != "" {
		p.SetFrom(from)
	}
	var (
		sid   string
		found bool
	)
	_, err := s.call(ctx, func(api *openapi.ApiService) error {
		complete, err := twiliocall.Pages(lookupMaxPages, func(token, page string) (string, error) {
			resp, err := api.PageMessage(p, token, page)
			if err != nil {
				return "", err
			}
			for _, msg := range resp.Messages {
				sent, hasSent := parseDate(msg.DateSent)
				if hasSent && sent.Before(since) {
					return "", nil // the list is newest first: nothing older matters
				}
				created, ok := parseDate(msg.DateCreated)
				if !ok || created.Before(since) || deref(msg.Body) != m.Body || deref(msg.To) != m.To ||
					!acceptedStatus[deref(msg.Status)] || strings.HasPrefix(deref(msg.Direction), "inbound") {
					continue
				}
				if s.cfg.MessagingServiceSID != "" && s.from(m) == "" && deref(msg.MessagingServiceSid) != s.cfg.MessagingServiceSID {
					continue
				}
				// Keep the oldest match: the one closest to the intent.
				sid, found = deref(msg.Sid), true
			}
			return deref(resp.NextPageUri), nil
		})
		if err == nil && !complete && !found {
			return fmt.Errorf("twiliosms: lookup read %d messages to %s and did not reach the intent time; try again later", lookupMaxPages*lookupPageSize, outreach.MaskPhone(m.To))
		}
		return err
	})
	if err != nil {
		return "", false, fmt.Errorf("twiliosms: lookup: %w", err)
	}
	return sid, found, nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// parseDate reads a Twilio 2010 API date (RFC 2822, as "Tue, 04 Mar 2025
// 15:00:00 +0000").
func parseDate(p *string) (time.Time, bool) {
	if p == nil || *p == "" {
		return time.Time{}, false
	}
	for _, layout := range []string{time.RFC1123Z, time.RFC1123, time.RFC3339} {
		if t, err := time.Parse(layout, *p); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
