// Package twilioenv reads the Twilio configuration of the example programs
// from the environment, checks it, and builds the twilio-go client and the
// HTTP client that the library's Twilio packages take.
//
//	cfg, err := twilioenv.FromEnv(os.Getenv)
//	if err != nil {
//		return err // says which variable is wrong, never echoes the token
//	}
//	if !cfg.Configured() {
//		// no credentials: dev mode, or refuse the command
//	}
//	client := cfg.Client() // *twilio.RestClient
//
// Variables (the blueprint's names in parentheses are accepted too):
//
//	TWILIO_ACCOUNT_SID (ACCOUNT_SID)   AC followed by 32 hex digits
//	TWILIO_AUTH_TOKEN (AUTH_TOKEN)     the account's auth token
//	TWILIO_PHONE_NUMBER                the sending number, any format NormalizePhone reads
//	TWILIO_MESSAGING_SERVICE_SID       MG followed by 32 hex digits
//	TWILIO_API_BASE                    tests and development only: see below
//
// TWILIO_API_BASE, such as http://127.0.0.1:41234, sends every request
// meant for a Twilio host (api.twilio.com, studio.twilio.com,
// verify.twilio.com, messaging.twilio.com, ..., pagination links included)
// to that base instead: point it at a fake Twilio such as
// outreach/twiliotest's server.
package twilioenv

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"

	"github.com/patient-outreach/sms/outreach"
)

// Config is a Twilio account's configuration.
type Config struct {
	// AccountSID and AuthToken are the account's credentials.
	AccountSID string
	AuthToken  string
	// PhoneNumber is the sending number in E.164 form (normalised by
	// FromEnv); empty when not configured.
	PhoneNumber string
	// MessagingServiceSID is the messaging service to send through ("MG..."),
	// if any.
	MessagingServiceSID string
	// APIBase, when set, is a base URL (scheme and host, no path) that
	// every request to a Twilio host is sent to instead: for tests and
	// development against a fake Twilio.
	APIBase string
}

// Environment variables read by [FromEnv].
const (
	EnvAccountSID          = "TWILIO_ACCOUNT_SID"
	EnvAuthToken           = "TWILIO_AUTH_TOKEN"
	EnvPhoneNumber         = "TWILIO_PHONE_NUMBER"
	EnvMessagingServiceSID = "TWILIO_MESSAGING_SERVICE_SID"
	EnvAPIBase             = "TWILIO_API_BASE"
	// The blueprint's names for the credentials.
	EnvAccountSIDAlias = "ACCOUNT_SID"
	EnvAuthTokenAlias  = "AUTH_TOKEN"
)

var (
	accountSIDRE = regexp.MustCompile(`^AC[0-9a-fA-F]{32}$`)
	serviceSIDRE = regexp.MustCompile(`^MG[0-9a-fA-F]{32}$`)
	tokenRE      = regexp.MustCompile(`^[A-Za-z0-9]+$`)
)

// ErrInvalid matches every error [FromEnv] and [Config.Validate] return.
var ErrInvalid = errors.New("twilioenv: invalid Twilio configuration")

// FromEnv reads the configuration with getenv (os.Getenv, or a map's
// lookup in tests) and validates it. Nothing set gives a zero Config and no
// error ([Config.Configured] is false). Values are trimmed of surrounding
// spaces; the TWILIO_ names win over their aliases.
func FromEnv(getenv func(string) string) (Config, error) {
	get := func(names ...string) string {
		for _, n := range names {
			if v := strings.TrimSpace(getenv(n)); v != "" {
				return v
			}
		}
		return ""
	}
	c := Config{
		AccountSID:          get(EnvAccountSID, EnvAccountSIDAlias),
		AuthToken:           get(EnvAuthToken, EnvAuthTokenAlias),
		PhoneNumber:         get(EnvPhoneNumber),
		MessagingServiceSID: get(EnvMessagingServiceSID),
		APIBase:             get(EnvAPIBase),
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	if c.PhoneNumber != "" {
		// Validate checked it normalises.
		c.PhoneNumber, _ = outreach.NormalizePhone(c.PhoneNumber, "US")
	}
	c.APIBase = strings.TrimSuffix(c.APIBase, "/")
	return c, nil
}

// Validate checks every field that is set, and that the credentials come
// in pairs. Errors name the variable and say what is expected; they never
// contain the auth token.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...))
	}
	switch {
	case c.AccountSID == "" && c.AuthToken != "":
		bad("%s is set but %s is not: set both, from the Twilio console", EnvAuthToken, EnvAccountSID)
	case c.AccountSID != "" && c.AuthToken == "":
		bad("%s is set but %s is not: set both, from the Twilio console", EnvAccountSID, EnvAuthToken)
	}
	if c.AccountSID != "" && !accountSIDRE.MatchString(c.AccountSID) {
		bad("%s must be \"AC\" followed by 32 hex digits (an account SID, not an API key)", EnvAccountSID)
	}
	if c.AuthToken != "" && !tokenRE.MatchString(c.AuthToken) {
		bad("%s must be letters and digits only (copy it from the Twilio console)", EnvAuthToken)
	}
	if c.PhoneNumber != "" {
		if _, err := outreach.NormalizePhone(c.PhoneNumber, "US"); err != nil {
			bad("%s is not a phone number: %v; write it in E.164 form, such as +15005550006", EnvPhoneNumber, err)
		}
	}
	if c.MessagingServiceSID != "" && !serviceSIDRE.MatchString(c.MessagingServiceSID) {
		bad("%s must be \"MG\" followed by 32 hex digits", EnvMessagingServiceSID)
	}
	if c.APIBase != "" {
		if err := checkBase(c.APIBase); err != nil {
			bad("%s: %v", EnvAPIBase, err)
		}
	}
	return errors.Join(errs...)
}

func checkBase(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("must start with http:// or https://")
	case u.Host == "":
		return errors.New("has no host")
	case u.User != nil:
		return errors.New("must not hold credentials")
	case strings.TrimSuffix(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "":
		return errors.New("must be a scheme and host only, such as http://127.0.0.1:8080")
	}
	return nil
}

// Configured reports whether credentials are set.
func (c Config) Configured() bool { return c.AccountSID != "" && c.AuthToken != "" }

// HTTPClient returns the http.Client to reach Twilio with: with APIBase,
// one whose transport sends every request for a Twilio host to APIBase
// (the original host in the X-Forwarded-Host header); else one over
// http.DefaultTransport. Like twilio-go's own, it never follows redirects.
// Pass it to the library's Twilio packages (studio.DeployConfig.HTTPClient,
// ...), which add the caller's context and timeouts to it.
func (c Config) HTTPClient() *http.Client {
	var tr http.RoundTripper = http.DefaultTransport
	if c.APIBase != "" {
		if u, err := url.Parse(strings.TrimSuffix(c.APIBase, "/")); err == nil && checkBase(c.APIBase) == nil {
			tr = &rewriteTransport{scheme: u.Scheme, host: u.Host, base: http.DefaultTransport}
		}
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Client returns a twilio-go client for the account, over [Config.HTTPClient].
// Note that twilio-go builds its requests with context.Background(): code
// that must honour cancellation goes through the library's packages
// instead, which take [Config.HTTPClient].
func (c Config) Client() *twilio.RestClient {
	cl := &client.Client{
		Credentials: client.NewCredentials(c.AccountSID, c.AuthToken),
		HTTPClient:  c.HTTPClient(),
	}
	cl.SetAccountSid(c.AccountSID)
	rc := twilio.NewRestClientWithParams(twilio.ClientParams{Client: cl})
	if c.APIBase != "" {
		// Edges and regions change host names only; keep them plain.
		rc.SetEdge("")
		rc.SetRegion("")
	}
	return rc
}

// String describes the configuration without its secret: the token is
// never shown, the account SID only by its last four characters.
func (c Config) String() string {
	if !c.Configured() {
		return "twilio: not configured"
	}
	s := "twilio: account ..." + c.AccountSID[len(c.AccountSID)-4:]
	if c.PhoneNumber != "" {
		s += ", from " + outreach.MaskPhone(c.PhoneNumber)
	}
	if c.MessagingServiceSID != "" {
		s += ", messaging service " + c.MessagingServiceSID
	}
	if c.APIBase != "" {
		s += ", API at " + c.APIBase
	}
	return s
}

// GoString is String, so that %#v does not print the token either.
func (c Config) GoString() string { return c.String() }

// IsTwilioHost reports whether host (with or without a port) is twilio.com
// or one of its subdomains.
func IsTwilioHost(host string) bool {
	h := strings.ToLower(host)
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	return h == "twilio.com" || strings.HasSuffix(h, ".twilio.com")
}

// rewriteTransport sends every request for a Twilio host to scheme://host.
type rewriteTransport struct {
	scheme, host string
	base         http.RoundTripper
}

func (t *rewriteTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !IsTwilioHost(req.URL.Host) {
		return t.base.RoundTrip(req)
	}
	r := req.Clone(req.Context())
	r.Header.Set("X-Forwarded-Host", req.URL.Host)
	r.URL.Scheme = t.scheme
	r.URL.Host = t.host
	r.Host = ""
	return t.base.RoundTrip(r)
}
