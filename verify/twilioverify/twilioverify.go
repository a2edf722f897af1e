package twilioverify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/verify/v2"

	"github.com/patient-outreach/sms/internal/twiliocall"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/verify"
)

// DefaultTimeout bounds one call to Twilio Verify when
// Config.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Pages read to find the Verify service by name: at most 2,000 services.
const (
	servicePageSize = 100
	serviceMaxPages = 20
)

// Config configures a [Codes].
type Config struct {
	// AccountSID and AuthToken are the Twilio account's credentials
	// (alphanumeric, as twilio-go requires).
	AccountSID string
	AuthToken  string
	// ServiceName is the friendly name of the Verify service, found or
	// created by [New] (the blueprint used CUSTOMER_NAME).
	// Twilio shows it in the text ("Your <name> verification code
	// is ..."). At most [verify.MaxServiceNameLen] characters.
	ServiceName string
	// HTTPClient supplies the base transport (its Transport; nil means
	// http.DefaultTransport). Point it at a fake Twilio with
	// twiliotest.Server.HTTPClient. Its Timeout is ignored: see Timeout.
	HTTPClient *http.Client
	// Timeout bounds each call (New' lookup, its creation of
	// the service, each SendCode and CheckCode); zero means
	// [DefaultTimeout].
	Timeout time.Duration
}

// Codes is a [CodeSender] on Twilio Verify, through the twilio-go
// client: Twilio generates the codes, texts them (channel "sms"),
// expires them after 10 minutes, allows 5 sends and 5 checks per
// verification, and checks them. It is safe for concurrent use. Create
// it with [New].
//
// Every call honours its context and the configured timeout, and leaves
// no request running when it returns. Errors hold neither the code nor
// the full phone number.
type Codes struct {
	cfg        Config
	caller     twiliocall.Caller
	serviceSID string
}

var _ verify.CodeSender = (*Codes)(nil)

var alphanumeric = regexp.MustCompile(`^[A-Za-z0-9]+$`)

// New checks cfg and finds the Verify service named
// cfg.ServiceName, reading the account's services page by page, or
// creates it if there is none. If several services have the name, the
// first listed is used. Two instances starting at once on an account
// without the service may each create one; the next start uses the
// first.
func New(ctx context.Context, cfg Config) (*Codes, error) {
	switch {
	case cfg.AccountSID == "" || cfg.AuthToken == "":
		return nil, errors.New("verify: Config needs AccountSID and AuthToken")
	case !alphanumeric.MatchString(cfg.AccountSID) || !alphanumeric.MatchString(cfg.AuthToken):
		return nil, errors.New("verify: AccountSID and AuthToken must be alphanumeric (copy them from the Twilio console)")
	case strings.TrimSpace(cfg.ServiceName) == "":
		return nil, errors.New("verify: Config.ServiceName is empty: set the Verify service's friendly name")
	case utf8.RuneCountInString(cfg.ServiceName) > verify.MaxServiceNameLen:
		return nil, fmt.Errorf("verify: Config.ServiceName is longer than %d characters", verify.MaxServiceNameLen)
	case cfg.Timeout < 0:
		return nil, errors.New("verify: Config.Timeout must not be negative")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	t := &Codes{cfg: cfg, caller: twiliocall.Caller{AccountSID: cfg.AccountSID, AuthToken: cfg.AuthToken, Timeout: cfg.Timeout}}
	if cfg.HTTPClient != nil {
		t.caller.Base = cfg.HTTPClient.Transport
	}
	sid, err := t.findService(ctx)
	if err != nil {
		return nil, err
	}
	if sid == "" {
		if sid, err = t.createService(ctx); err != nil {
			return nil, err
		}
	}
	t.serviceSID = sid
	return t, nil
}

// ServiceSID is the SID ("VA...") of the Verify service in use.
func (t *Codes) ServiceSID() string { return t.serviceSID }

// findService returns the SID of the first service named
// cfg.ServiceName, or "" if there is none.
func (t *Codes) findService(ctx context.Context) (string, error) {
	var sid string
	err := t.call(ctx, func(api *openapi.ApiService) error {
		p := &openapi.ListServiceParams{}
		p.SetPageSize(servicePageSize)
		complete, err := twiliocall.Pages(serviceMaxPages, func(token, page string) (string, error) {
			resp, err := api.PageService(p, token, page)
			if err != nil {
				return "", err
			}
			for _, sv := range resp.Services {
				if sv.FriendlyName != nil && *sv.FriendlyName == t.cfg.ServiceName && sv.Sid != nil && *sv.Sid != "" {
					sid = *sv.Sid
					return "", nil
				}
			}
			if next := resp.Meta.NextPageUrl; next != nil {
				return *next, nil
			}
			return "", nil
		})
		if err == nil && !complete {
			err = fmt.Errorf("read %d services without reaching the end of the list", serviceMaxPages*servicePageSize)
		}
		return err
	})
	if err != nil {
		return "", wrapTwilio("listing the Verify services", err, nil, nil)
	}
	return sid, nil
}

// createService creates the service named cfg.ServiceName.
func (t *Codes) createService(ctx context.Context) (string, error) {
	var sv *openapi.VerifyV2Service
	err := t.call(ctx, func(api *openapi.ApiService) (err error) {
		p := &openapi.CreateServiceParams{}
		p.SetFriendlyName(t.cfg.ServiceName)
		sv, err = api.CreateService(p)
		return err
	})
	if err != nil {
		return "", wrapTwilio("creating the Verify service", err, nil, nil)
	}
	if sv == nil || sv.Sid == nil || *sv.Sid == "" {
		return "", errors.New("verify: Twilio created the Verify service but answered with no SID")
	}
	return *sv.Sid, nil
}

// SendCode starts a verification of to (E.164) on channel "sms", or
// sends the pending verification's code again (Twilio keeps the code).
// Errors: [verify.ErrTooManyCodes] after 5 sends of one verification, else a
// failure of Twilio or of ctx.
func (t *Codes) SendCode(ctx context.Context, to string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if to == "" {
		return errors.New("verify: no phone number to send the code to")
	}
	p := &openapi.CreateVerificationParams{}
	p.SetTo(to).SetChannel("sms")
	err := t.call(ctx, func(api *openapi.ApiService) error {
		_, err := api.CreateVerification(t.serviceSID, p)
		return err
	})
	if err == nil {
		return nil
	}
	var te *client.TwilioRestError
	if errors.As(err, &te) && te.Code == 60203 {
		return wrapTwilio("sending a code", err, verify.ErrTooManyCodes, []string{to})
	}
	return wrapTwilio("sending a code", err, nil, []string{to})
}

// CheckCode checks code with a verification check of to. It returns
// true when Twilio approves it, and false, nil for a wrong code (the
// 5th wrong check cancels the verification). An error matching
// [verify.ErrExpired] means there is no pending verification: Twilio answers
// 404 (code 20404) when it expired, was approved already or was
// canceled, and 429 (code 60202) after too many checks.
func (t *Codes) CheckCode(ctx context.Context, to, code string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if to == "" {
		return false, errors.New("verify: no phone number to check the code of")
	}
	if code == "" {
		return false, nil
	}
	p := &openapi.CreateVerificationCheckParams{}
	p.SetTo(to).SetCode(code)
	var vc *openapi.VerifyV2VerificationCheck
	err := t.call(ctx, func(api *openapi.ApiService) (err error) {
		vc, err = api.CreateVerificationCheck(t.serviceSID, p)
		return err
	})
	secrets := []string{to, code}
	if err != nil {
		var te *client.TwilioRestError
		if errors.As(err, &te) && (te.Status == http.StatusNotFound || te.Code == 20404 || te.Code == 60202) {
			return false, wrapTwilio("checking a code", err, verify.ErrExpired, secrets)
		}
		return false, wrapTwilio("checking a code", err, nil, secrets)
	}
	if vc == nil || vc.Status == nil {
		return false, errors.New("verify: Twilio answered the verification check with no status")
	}
	switch *vc.Status {
	case "approved":
		return true, nil
	case "pending", "canceled", "max_attempts_reached":
		return false, nil // a wrong code; a canceled verification answers 404 next
	default: // expired, deleted, failed: the code was not checked
		return false, wrapTwilio("checking a code", fmt.Errorf("verification status %q", *vc.Status), verify.ErrExpired, secrets)
	}
}

// twilioError is a failed call to Twilio Verify. Its message has the
// phone number masked and the code removed; it matches kind (if any)
// and wraps the error from twilio-go.
type twilioError struct {
	msg  string
	kind error
	err  error
}

func (e *twilioError) Error() string { return e.msg }

// Unwrap returns kind, if set, and the underlying error.
func (e *twilioError) Unwrap() []error {
	if e.kind != nil {
		return []error{e.kind, e.err}
	}
	return []error{e.err}
}

// wrapTwilio wraps err from the operation op. kind, if set, leads the
// message and is matched by [errors.Is]. The secrets (the phone number,
// the code) are removed from the message.
func wrapTwilio(op string, err, kind error, secrets []string) error {
	msg := fmt.Sprintf("verify: Twilio Verify, %s: %v", op, err)
	if kind != nil {
		msg = fmt.Sprintf("%v (Twilio Verify, %s: %v)", kind, op, err)
	}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		repl := "[redacted]"
		if strings.HasPrefix(s, "+") {
			repl = outreach.MaskPhone(s)
			msg = strings.ReplaceAll(msg, s, repl)
			msg = strings.ReplaceAll(msg, url.QueryEscape(s), repl)
			s = s[1:]
		}
		if len(s) >= 4 { // shorter strings are not secrets worth mangling a message for
			msg = strings.ReplaceAll(msg, s, repl)
		}
	}
	return &twilioError{msg: msg, kind: kind, err: err}
}

// call runs fn with a twilio-go Verify service whose every request
// carries ctx, bounded by the per-call timeout (see internal/twiliocall).
func (t *Codes) call(ctx context.Context, fn func(*openapi.ApiService) error) error {
	_, err := t.caller.Do(ctx, func(c *client.Client) error {
		return fn(openapi.NewApiServiceWithClient(c))
	})
	return err
}
