package twiliotest

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// Step delivers everything due by now, in this order: the status
// changes of messages (each POSTed, signed, to the message's
// StatusCallback); then, merged by time (a text before a timer due at the
// same instant), the texts the simulated phones sent and the timers set
// with [Server.AfterFunc]. A text is recorded as an inbound message and
// POSTed, signed, to the incoming-message URL of the number it was sent
// to (its SmsUrl, or the InboundRequestUrl of its Messaging Service: see
// [Server.SetServiceInboundURL]), or, when that URL is the webhook of a
// Studio flow the fake holds, handed to the flow's execution (see
// [ReplyRunner]). Tests on an
// [outreach.ManualClock] move the clock and call Step; see [Server.Next].
// Each webhook is tried once; Step returns the failures (a transport
// error or a non-2xx answer) and the errors of [ReplyRunner] joined.
// Timers and runners run with no lock held.
func (s *Server) Step(ctx context.Context, now time.Time) error {
	return errors.Join(s.step(ctx, now)...)
}

// fanOut runs do(0..n-1): in order when Options.WebhookConcurrency is at
// most 1, else on that many goroutines, the items of one key on one
// goroutine in order. It returns the errors, in no particular order.
func (s *Server) fanOut(n int, key func(int) string, do func(int) error) []error {
	workers := min(s.opts.WebhookConcurrency, n)
	var errs []error
	if workers <= 1 {
		for i := range n {
			if err := do(i); err != nil {
				errs = append(errs, err)
			}
		}
		return errs
	}
	parts := make([][]int, workers)
	for i := range n {
		h := fnv.New32a()
		_, _ = h.Write([]byte(key(i)))
		w := int(h.Sum32() % uint32(workers))
		parts[w] = append(parts[w], i)
	}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for _, part := range parts {
		wg.Go(func() {
			for _, i := range part {
				if err := do(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return errs
}

type webhook struct {
	url    string
	params url.Values
	// For an incoming message: the number texted and the phone that
	// texted, between which the TwiML answer's <Message>s go.
	replyFrom, replyTo string
}

func (s *Server) step(ctx context.Context, now time.Time) []error {
	reports := s.net.DeliveryReports(now)
	s.mu.Lock()
	for _, rep := range reports {
		if s.bySID[rep.ProviderID] == nil {
			continue // not sent through the fake
		}
		code, _ := strconv.Atoi(rep.ErrorCode)
		s.schedule(event{at: rep.At, sid: rep.ProviderID, status: rep.Status, errorCode: code, final: true})
	}
	n := 0
	for n < len(s.events) && !s.events[n].at.After(now) {
		n++
	}
	due := s.events[:n:n]
	s.events = s.events[n:]
	var hooks []webhook
	for _, ev := range due {
		m := s.bySID[ev.sid]
		m.apply(ev, now)
		if m.StatusCallback != "" {
			hooks = append(hooks, webhook{url: m.StatusCallback, params: s.statusParams(m, ev)})
		}
	}
	s.mu.Unlock()

	// The status callbacks of one message go in order; with
	// Options.WebhookConcurrency, those of different phones in parallel.
	errs := s.fanOut(len(hooks), func(i int) string { return hooks[i].params.Get("To") },
		func(i int) error { return s.post(ctx, hooks[i]) })
	texts := s.net.Due(now)
	s.mu.Lock()
	timers := s.dueTimers(now)
	s.mu.Unlock()
	if len(timers) == 0 && s.opts.WebhookConcurrency > 1 {
		// No timer to interleave: each phone's texts in order, the phones
		// in parallel.
		ds := make([]delivery, len(texts))
		for i, in := range texts {
			ds[i] = s.receive(ctx, in)
		}
		return append(errs, s.fanOut(len(ds), func(i int) string { return texts[i].From },
			func(i int) error { return s.deliver(ctx, ds[i]) })...)
	}
	for len(texts) > 0 || len(timers) > 0 {
		if len(timers) == 0 || len(texts) > 0 && !texts[0].ReceivedAt.After(timers[0].at) {
			if err := s.deliver(ctx, s.receive(ctx, texts[0])); err != nil {
				errs = append(errs, err)
			}
			texts = texts[1:]
			continue
		}
		timers[0].fn(ctx)
		timers = timers[1:]
	}
	return errs
}

// delivery is what becomes of a text from a phone: a webhook to POST, a
// reply to hand to a Studio execution, an error, or nothing.
type delivery struct {
	hook   *webhook
	runner ReplyRunner
	exec   Execution
	msg    Message
	// start is set when the text started exec, which runner starts.
	start ExecutionRunner
	err   error
}

// deliver carries out d with no lock held.
func (s *Server) deliver(ctx context.Context, d delivery) error {
	switch {
	case d.err != nil:
		return d.err
	case d.hook != nil:
		return s.post(ctx, *d.hook)
	case d.start != nil:
		if err := s.startExecution(ctx, d.start, d.exec); err != nil {
			return fmt.Errorf("twiliotest: execution %s started by text %s: %w", d.exec.SID, d.msg.SID, err)
		}
	case d.runner != nil:
		if err := d.runner.ExecutionReply(ctx, s, d.exec, d.msg); err != nil {
			return fmt.Errorf("twiliotest: execution %s: reply %s: %w", d.exec.SID, d.msg.SID, err)
		}
	}
	return nil
}

// statusParams are the parameters of a status callback. Called with s.mu
// held.
func (s *Server) statusParams(m *message, ev event) url.Values {
	v := url.Values{
		"AccountSid":    {s.accountSID},
		"ApiVersion":    {"2010-04-01"},
		"From":          {m.From},
		"MessageSid":    {m.SID},
		"MessageStatus": {ev.status},
		"SmsSid":        {m.SID},
		"SmsStatus":     {ev.status},
		"To":            {m.To},
	}
	if ev.errorCode != 0 {
		v.Set("ErrorCode", strconv.Itoa(ev.errorCode))
	}
	if m.MessagingServiceSID != "" {
		v.Set("MessagingServiceSid", m.MessagingServiceSID)
	}
	return v
}

// receive records a text from a phone as an inbound message and says
// what to do with it: POST it to the incoming-message URL of the number
// it was sent to, or, when that URL is the webhook of a Studio flow the
// fake holds, hand it to the flow's active execution for the sender (if
// any, and if the runner is a [ReplyRunner]). The URL is the
// InboundRequestUrl of the Messaging Service whose sender pool holds the
// number, when that service has one and UseInboundWebhookOnNumber is
// false; else the number's SmsUrl. Texts to numbers that are not
// provisioned are dropped.
func (s *Server) receive(ctx context.Context, in outreach.InboundMessage) delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	num := s.numberByPhone(in.To)
	if num == nil {
		return delivery{}
	}
	sid := in.ProviderID
	if sid == "" || s.bySID[sid] != nil {
		sid = s.sid("SM")
	}
	svc := s.serviceOfNumber(num.phone)
	m := &message{Message{
		SID: sid, From: in.From, To: in.To, Body: in.Body, Status: "received",
		Direction: "inbound", DateCreated: in.ReceivedAt, DateUpdated: in.ReceivedAt, DateSent: in.ReceivedAt,
	}}
	if svc != nil {
		m.MessagingServiceSID = svc.sid
	}
	s.msgs = append(s.msgs, m)
	s.bySID[sid] = m
	s.keywordAnswer(ctx, num.phone, in.From, in.Body)
	target, owner := num.smsURL, "the SmsUrl of number "+num.sid
	if svc != nil && svc.inboundURL != "" && !svc.useNumberWebhook {
		target, owner = svc.inboundURL, "the InboundRequestUrl of messaging service "+svc.sid
	}
	if target == "" {
		return delivery{}
	}
	if flowSID, ok := s.studioWebhook(target); ok {
		return s.studioReply(flowSID, owner, m.Message)
	}
	params := url.Values{
		"AccountSid":    {s.accountSID},
		"ApiVersion":    {"2010-04-01"},
		"Body":          {in.Body},
		"From":          {in.From},
		"MessageSid":    {sid},
		"NumMedia":      {"0"},
		"NumSegments":   {strconv.Itoa(segments(in.Body))},
		"SmsMessageSid": {sid},
		"SmsSid":        {sid},
		"SmsStatus":     {"received"},
		"To":            {in.To},
	}
	if svc != nil {
		params.Set("MessagingServiceSid", svc.sid)
	}
	return delivery{hook: &webhook{url: target, params: params, replyFrom: num.phone, replyTo: in.From}}
}

// studioWebhookPrefix starts the webhook URL of every Studio flow:
// https://webhooks.twilio.com/v1/Accounts/{AccountSid}/Flows/{FlowSid}.
const studioWebhookPrefix = "https://webhooks.twilio.com/"

// studioWebhook reports whether u is on Studio's webhook host, and the
// flow SID when it is exactly the webhook of a flow of this account.
func (s *Server) studioWebhook(u string) (flowSID string, ok bool) {
	rest, ok := strings.CutPrefix(u, studioWebhookPrefix)
	if !ok {
		return "", false
	}
	flowSID, _ = strings.CutPrefix(rest, "v1/Accounts/"+s.accountSID+"/Flows/")
	if flowSID == rest || strings.ContainsAny(flowSID, "/?#") {
		flowSID = ""
	}
	return flowSID, true
}

// studioReply finds what to do with a text m whose incoming-message URL
// (named by owner, such as "the SmsUrl of number PN...") is the webhook
// of Studio flow flowSID (empty if the URL is not a flow webhook of this
// account): the same for a number's SmsUrl and a Messaging Service's
// InboundRequestUrl. Called with s.mu held.
func (s *Server) studioReply(flowSID, owner string, m Message) delivery {
	f := s.flow(flowSID)
	if f == nil {
		return delivery{err: fmt.Errorf("twiliotest: %s is a Studio webhook of no flow this fake holds; text %s not delivered",
			owner, m.SID)}
	}
	for _, e := range f.execs {
		if e.Status == "active" && e.ContactChannelAddress == m.From {
			rr, ok := s.studio.runner.(ReplyRunner)
			if !ok {
				return delivery{}
			}
			return delivery{runner: rr, exec: cloneExecution(e.Execution), msg: m}
		}
	}
	// No active execution for the sender: the text starts one, from the
	// trigger's incomingMessage transition.
	e := s.newExecution(f, m.From, m.To, nil, s.messageVars(m))
	if s.studio.runner == nil {
		return delivery{}
	}
	return delivery{start: s.studio.runner, exec: cloneExecution(e.Execution), msg: m}
}

// messageVars are the variables of an incoming text in a Studio
// execution context (trigger.message, or a widget's inbound): the
// parameters of Twilio's incoming-message webhook. Called with s.mu held.
func (s *Server) messageVars(m Message) map[string]any {
	return map[string]any{
		"Body": m.Body, "From": m.From, "To": m.To,
		"MessageSid": m.SID, "SmsMessageSid": m.SID, "SmsSid": m.SID, "SmsStatus": "received",
		"AccountSid": s.accountSID, "NumMedia": "0", "ApiVersion": "2010-04-01",
	}
}

// post sends a signed webhook. Errors name the URL, never the content.
func (s *Server) post(ctx context.Context, h webhook) error {
	req, err := NewWebhookRequest(ctx, s.authToken, h.url, h.params)
	if err != nil {
		return fmt.Errorf("twiliotest: webhook %s: %w", h.url, err)
	}
	resp, err := s.hook.Do(req)
	if err != nil {
		return fmt.Errorf("twiliotest: webhook %s: %w", h.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return fmt.Errorf("twiliotest: webhook %s answered %s", h.url, resp.Status)
	}
	if h.replyTo != "" {
		return s.answerTwiML(ctx, h, resp.Body)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return nil
}

// Next returns when something is next due for [Server.Step]: a status
// change, a delivery report, a text from a phone or a timer set with
// [Server.AfterFunc].
func (s *Server) Next() (time.Time, bool) {
	var next time.Time
	take := func(t time.Time, ok bool) {
		if ok && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	s.mu.Lock()
	if len(s.events) > 0 {
		take(s.events[0].at, true)
	}
	if len(s.timers) > 0 {
		take(s.timers[0].at, true)
	}
	s.mu.Unlock()
	take(s.net.NextDue())
	take(s.net.NextReport())
	return next, !next.IsZero()
}

// pollInterval bounds how long Run takes to notice a text that a phone
// sent outside the server (such as with simphone's Phone.Text).
const pollInterval = 20 * time.Millisecond

// Run calls [Server.Step] as things fall due by the server's clock, until
// ctx is done; it then returns ctx.Err(). It works in real time and with
// an [outreach.ManualClock] moved by another goroutine. Webhook failures
// go to Options.OnWebhookError and do not stop Run. Run starts no
// goroutine; run one Run per server.
func (s *Server) Run(ctx context.Context) error {
	poll := time.NewTicker(pollInterval)
	defer poll.Stop()
	var (
		timer   <-chan time.Time
		timerAt time.Time
	)
	for {
		for _, err := range s.step(ctx, s.clock.Now()) {
			if s.opts.OnWebhookError != nil && ctx.Err() == nil {
				s.opts.OnWebhookError(err)
			}
		}
		s.mu.Lock()
		wake := s.wake
		s.mu.Unlock()
		if at, ok := s.Next(); !ok {
			timer, timerAt = nil, time.Time{}
		} else if timer == nil || !at.Equal(timerAt) {
			timer, timerAt = s.clock.After(at.Sub(s.clock.Now())), at
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		case <-timer:
			timer = nil
		case <-poll.C:
		}
	}
}
