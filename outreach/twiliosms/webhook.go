package twiliosms

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/twilio/twilio-go/client"

	"github.com/patient-outreach/sms/outreach"
)

// SignatureHeader is the header Twilio signs its webhook requests with.
const SignatureHeader = "X-Twilio-Signature"

// DefaultMaxBodyBytes limits a webhook request's body when
// WebhookConfig.MaxBodyBytes is zero.
const DefaultMaxBodyBytes = 64 << 10

// InboundReceiver handles an inbound SMS; [outreach.Runner] is one.
type InboundReceiver interface {
	HandleInbound(ctx context.Context, in outreach.InboundMessage) (reply string, err error)
}

// StatusReceiver handles a delivery status callback; [outreach.Runner]
// is one.
type StatusReceiver interface {
	HandleStatus(ctx context.Context, u outreach.StatusUpdate) error
}

// WebhookConfig configures a webhook handler ([InboundHandler] or
// [StatusHandler]).
type WebhookConfig struct {
	// AuthToken is the account's auth token, the key Twilio signs with.
	AuthToken string
	// PublicURL is the URL of this endpoint exactly as configured at
	// Twilio (the number's SmsUrl, or Config.StatusCallbackURL), query
	// string included: what Twilio signs. It is never taken from the
	// request (whose Host is wrong behind a proxy).
	PublicURL string
	// MaxBodyBytes limits the request body (413 beyond); zero means
	// [DefaultMaxBodyBytes].
	MaxBodyBytes int64
	// Logger, if set, receives one record per refused or failed request
	// (SIDs and masked numbers, never bodies). Nil logs nothing.
	Logger *slog.Logger
	// Retry is how long the handler keeps calling a receiver that fails
	// (HandleInbound or HandleStatus, both idempotent on the MessageSid),
	// backing off from 50ms to 1s, before it answers 500. Twilio does not
	// send an SMS webhook again after a failure (it calls the number's
	// fallback URL, if any, once), so without it a reply that arrives
	// while the database restarts is lost. Twilio waits 15 seconds for
	// an answer: keep Retry well under that (10 seconds, say). Zero
	// means no retry.
	Retry time.Duration
}

func (c *WebhookConfig) check() error {
	if c.AuthToken == "" {
		return errors.New("twiliosms: WebhookConfig needs the AuthToken webhooks are signed with")
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("twiliosms: WebhookConfig.PublicURL must be the full http(s) URL configured at Twilio")
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	return nil
}

// formContentType is the only Content-Type Twilio sends its webhooks with.
const formContentType = "application/x-www-form-urlencoded"

// webhook is what both handlers share: method, content type, size and
// signature checks.
type webhook struct {
	cfg       WebhookConfig
	validator client.RequestValidator
	kind      string
}

// form reads and authenticates r's form parameters. On failure it has
// answered and returns false.
func (h *webhook) form(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return nil, false
	}
	// Twilio posts its parameters as a form, and signs only them: a body
	// labelled anything else (JSON, multipart) is not one of its requests.
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != formContentType {
		h.log(r.Context(), slog.LevelWarn, "twilio webhook: content type is not a form; refused")
		http.Error(w, "the body must be "+formContentType, http.StatusUnsupportedMediaType)
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.log(r.Context(), slog.LevelWarn, "twilio webhook: body too large")
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return nil, false
		}
		http.Error(w, "could not read the request body", http.StatusBadRequest)
		return nil, false
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		h.log(r.Context(), slog.LevelWarn, "twilio webhook: body is not a form")
		http.Error(w, "the body must be application/x-www-form-urlencoded", http.StatusBadRequest)
		return nil, false
	}
	sig := r.Header.Get(SignatureHeader)
	if sig == "" || !h.valid(form, sig) {
		h.log(r.Context(), slog.LevelWarn, "twilio webhook: missing or bad signature; refused", "missing", sig == "")
		http.Error(w, "invalid "+SignatureHeader, http.StatusForbidden)
		return nil, false
	}
	return form, true
}

// valid checks sig over the configured URL and the form parameters.
func (h *webhook) valid(form url.Values, sig string) bool {
	params := make(map[string]string, len(form))
	for k, vs := range form {
		if len(vs) != 1 {
			// twilio-go's validator takes one value per name; Twilio's
			// webhooks never repeat one.
			return false
		}
		params[k] = vs[0]
	}
	return h.validator.Validate(h.cfg.PublicURL, params, sig)
}

// call calls fn until it succeeds, fails for good (final), the request
// ends or cfg.Retry has passed.
func (h *webhook) call(ctx context.Context, sid string, fn func() error, final func(error) bool) error {
	deadline := time.Now().Add(h.cfg.Retry)
	wait := 50 * time.Millisecond
	for tries := 1; ; tries++ {
		err := fn()
		if err == nil || final(err) || ctx.Err() != nil || time.Now().Add(wait).After(deadline) {
			if err != nil && tries > 1 {
				h.log(ctx, slog.LevelWarn, "twilio webhook: receiver failed on every try", "message_sid", sid, "tries", tries)
			}
			return err
		}
		if tries == 1 {
			h.log(ctx, slog.LevelWarn, "twilio webhook: receiver failed; retrying", "message_sid", sid, "error", err)
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

func (h *webhook) log(ctx context.Context, level slog.Level, msg string, args ...any) {
	if h.cfg.Logger != nil {
		h.cfg.Logger.Log(ctx, level, msg, append([]any{"webhook", h.kind}, args...)...)
	}
}

// InboundHandler returns the webhook for inbound SMS (the SmsUrl of the
// sending number): it checks the X-Twilio-Signature against
// cfg.PublicURL, hands the message to rcv.HandleInbound, and answers
// with TwiML: an empty <Response/>, or the reply (HELP text) as a
// <Message>.
//
// Answers: 405 for anything but POST, 415 unless the Content-Type is
// application/x-www-form-urlencoded (parameters such as charset
// allowed), 413 for a body over cfg.MaxBodyBytes, 403 for a missing or bad signature, 400 without
// MessageSid, From or To, 500 if HandleInbound fails (after retrying
// for cfg.Retry: HandleInbound is idempotent on the MessageSid; Twilio
// itself calls only the fallback URL). Nothing is called unless the
// signature is good.
func InboundHandler(rcv InboundReceiver, cfg WebhookConfig) (http.Handler, error) {
	if rcv == nil {
		return nil, errors.New("twiliosms: InboundHandler needs a receiver")
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	h := &webhook{cfg: cfg, validator: client.NewRequestValidator(cfg.AuthToken), kind: "inbound"}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		form, ok := h.form(w, r)
		if !ok {
			return
		}
		sid := form.Get("MessageSid")
		if sid == "" {
			sid = form.Get("SmsSid")
		}
		in := outreach.InboundMessage{From: form.Get("From"), To: form.Get("To"), Body: form.Get("Body"), ProviderID: sid}
		if in.ProviderID == "" || in.From == "" || in.To == "" {
			http.Error(w, "MessageSid, From and To are required", http.StatusBadRequest)
			return
		}
		var reply string
		err := h.call(r.Context(), sid, func() (err error) {
			reply, err = rcv.HandleInbound(r.Context(), in)
			return err
		}, func(error) bool { return false })
		if err != nil {
			h.log(r.Context(), slog.LevelError, "twilio webhook: inbound message not handled",
				"message_sid", sid, "from", outreach.MaskPhone(in.From), "error", err)
			http.Error(w, "could not handle the message; retry", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		_, _ = io.WriteString(w, TwiML(reply))
	}), nil
}

// TwiML returns the TwiML answer to an inbound message: an empty
// <Response/> when reply is empty (or only spaces), else reply, XML
// escaped, as one <Message>.
func TwiML(reply string) string {
	var b strings.Builder
	b.WriteString(xml.Header)
	if strings.TrimSpace(reply) == "" {
		b.WriteString("<Response/>")
		return b.String()
	}
	b.WriteString("<Response><Message>")
	_ = xml.EscapeText(&b, []byte(reply))
	b.WriteString("</Message></Response>")
	return b.String()
}

// StatusHandler returns the status callback webhook (Config.StatusCallbackURL):
// it checks the X-Twilio-Signature against cfg.PublicURL and hands
// MessageSid, To, MessageStatus and ErrorCode to rcv.HandleStatus.
// Callbacks may come twice and out of order: the receiver keeps a
// status from moving backwards (the runner's store does).
//
// Answers: 204 when handled, and also for a message no one knows (an
// error matching [outreach.ErrNotFound], as for messages sent by another
// application on the account); 405, 415, 413, 403 and 400 as [InboundHandler];
// 500 if HandleStatus fails otherwise (after retrying for cfg.Retry).
func StatusHandler(rcv StatusReceiver, cfg WebhookConfig) (http.Handler, error) {
	if rcv == nil {
		return nil, errors.New("twiliosms: StatusHandler needs a receiver")
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	h := &webhook{cfg: cfg, validator: client.NewRequestValidator(cfg.AuthToken), kind: "status"}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		form, ok := h.form(w, r)
		if !ok {
			return
		}
		u := outreach.StatusUpdate{
			ProviderID: form.Get("MessageSid"),
			To:         form.Get("To"),
			Status:     form.Get("MessageStatus"),
			ErrorCode:  form.Get("ErrorCode"),
		}
		if u.ProviderID == "" {
			u.ProviderID = form.Get("SmsSid")
		}
		if u.Status == "" {
			u.Status = form.Get("SmsStatus")
		}
		if u.ProviderID == "" || u.Status == "" {
			http.Error(w, "MessageSid and MessageStatus are required", http.StatusBadRequest)
			return
		}
		err := h.call(r.Context(), u.ProviderID, func() error { return rcv.HandleStatus(r.Context(), u) },
			func(err error) bool { return errors.Is(err, outreach.ErrNotFound) })
		switch {
		case errors.Is(err, outreach.ErrNotFound):
			h.log(r.Context(), slog.LevelDebug, "twilio webhook: status for an unknown message; ignored", "message_sid", u.ProviderID)
		case err != nil:
			h.log(r.Context(), slog.LevelError, "twilio webhook: status not recorded",
				"message_sid", u.ProviderID, "to", outreach.MaskPhone(u.To), "status", u.Status, "error", err)
			http.Error(w, "could not record the status; retry", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}), nil
}
