package simphone

import (
	"cmp"
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/patient-outreach/sms/outreach"
)

// ReportDelay is how long after accepting a message the network reports
// its delivery status.
const ReportDelay = 2 * time.Second

// Carrier error codes the network answers with, as Twilio does.
const (
	CodeInvalidTo     = "21211" // the To number is not in E.164 form
	CodeNoBody        = "21602" // empty body
	CodeNoFrom        = "21603" // empty From
	CodeOptedOut      = "21610" // the recipient texted STOP to this sender
	CodeUnreachable   = "21612" // no such phone, or it cannot be reached
	CodeTooLong       = "21617" // body over 1,600 characters
	CodeUndeliverable = "30003" // delivery report: the handset is unreachable
)

// DeliveryReport is a message's final delivery status, as a Twilio status
// callback reports it.
type DeliveryReport struct {
	// ProviderID is the message's SID.
	ProviderID string
	// Status is "delivered" or "undelivered".
	Status string
	// ErrorCode is set when undelivered ([CodeUndeliverable]).
	ErrorCode string
	// At is when the status was reached.
	At time.Time
}

// Refusal is a message the network refused (see [Network.Deliver]).
type Refusal struct {
	Key  outreach.SendKey
	From string
	To   string
	// Code is the error code it was refused with, such as [CodeOptedOut].
	Code string
	At   time.Time
}

// Network is a simulated phone network: the phones on it and the carrier
// between them and the senders. It is safe for concurrent use.
type Network struct {
	clock outreach.Clock
	seed  uint64

	mu      sync.Mutex
	phones  map[string]*Phone
	def     func(*rand.Rand) Persona
	msgs    []Message // every accepted message, in order
	refused []Refusal
	sids    map[string]bool
	seq     uint64
	replies queue[outreach.InboundMessage]
	reports queue[DeliveryReport]
	// wake is closed, and replaced, when a queue gets a new head, so that
	// Run loops waiting for a later time look again.
	wake chan struct{}
}

// New returns an empty network that reads time from clock (nil means
// [outreach.SystemClock]) and draws every random choice from seed.
func New(clock outreach.Clock, seed uint64) *Network {
	if clock == nil {
		clock = outreach.SystemClock{}
	}
	return &Network{
		clock:  clock,
		seed:   seed,
		phones: make(map[string]*Phone),
		sids:   make(map[string]bool),
		wake:   make(chan struct{}),
	}
}

// Add puts a phone with persona p on the network at number (E.164, such as
// "+14155550100") and returns it. If the number already has a phone, its
// persona is replaced and its history kept. A number that is not in E.164
// form can be added but never reached: [Network.Deliver] refuses it.
func (n *Network) Add(number string, p Persona) *Phone {
	n.mu.Lock()
	defer n.mu.Unlock()
	if ph := n.phones[number]; ph != nil {
		ph.persona = p
		return ph
	}
	return n.add(number, p)
}

func (n *Network) add(number string, p Persona) *Phone {
	h := fnv.New64a()
	h.Write([]byte(number))
	hn := h.Sum64()
	ph := &Phone{
		net:         n,
		number:      number,
		persona:     p,
		rnd:         rand.New(rand.NewPCG(n.seed, hn)),
		sidRnd:      rand.New(rand.NewPCG(n.seed, hn^0x9e3779b97f4a7c15)),
		stopping:    make(map[string]bool),
		lastInvalid: make(map[string]bool),
	}
	n.phones[number] = ph
	return ph
}

// SetDefault makes the network add a phone for any valid number it is
// asked to reach that has none, with the persona fn returns (given the new
// phone's random source, so that the choice is deterministic for the seed),
// as a dev-mode simulation of any recipient list needs. [RandomPersona]
// gives a realistic mix. nil (the initial setting) makes such numbers
// unreachable (error 21612). fn must not call the Network.
func (n *Network) SetDefault(fn func(rnd *rand.Rand) Persona) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.def = fn
}

// Phone returns the phone at number, or nil.
func (n *Network) Phone(number string) *Phone {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.phones[number]
}

// Phones returns every phone, by number.
func (n *Network) Phones() []*Phone {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]*Phone, 0, len(n.phones))
	for _, p := range n.phones {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b *Phone) int { return cmp.Compare(a.number, b.number) })
	return out
}

// Deliver hands m to the network, as a provider hands a message to the
// carrier, and returns the message's SID ("SM" and 32 hex digits). The
// phone receives it at the clock's time and schedules its reply, if any.
//
// Deliver refuses with a Permanent *outreach.SendError, and records only
// the refusal (see [Network.Refusals]), when m.To is not in E.164 form
// (code 21211), m.From or m.Body is empty (21603, 21602), the body is over
// 1,600 characters (21617), no phone is at m.To or it is Unreachable
// (21612), or the phone has texted STOP to m.From and not START since
// (21610, with OptedOut set). A cancelled ctx gives a Retryable error:
// nothing was submitted.
//
// Deliver has no fault injection and no idempotency: each call that
// succeeds delivers one more message. See [NewSender] for both.
func (n *Network) Deliver(ctx context.Context, m outreach.OutboundMessage) (sid string, err error) {
	return n.deliver(ctx, m, false)
}

// Notify delivers a provider's own answer to a keyword, such as Twilio's
// opt-out confirmation ("You have successfully been unsubscribed..."),
// as [Network.Deliver] does, except that it reaches a phone that has
// opted out of m.From, and that the phone never answers it.
func (n *Network) Notify(ctx context.Context, m outreach.OutboundMessage) (sid string, err error) {
	return n.deliver(ctx, m, true)
}

func (n *Network) deliver(ctx context.Context, m outreach.OutboundMessage, notice bool) (sid string, err error) {
	if err := ctx.Err(); err != nil {
		return "", &outreach.SendError{Kind: outreach.Retryable, Reason: "cancelled before submitting", Err: err}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	now := n.clock.Now()
	refuse := func(code, reason string) (string, error) {
		n.refused = append(n.refused, Refusal{Key: m.Key, From: m.From, To: m.To, Code: code, At: now})
		return "", &outreach.SendError{Kind: outreach.Permanent, Code: code, Reason: reason, OptedOut: code == CodeOptedOut}
	}
	switch {
	case !outreach.IsE164(m.To):
		return refuse(CodeInvalidTo, "the To number is not a valid E.164 number")
	case m.From == "":
		return refuse(CodeNoFrom, "a From number is required")
	case m.Body == "":
		return refuse(CodeNoBody, "the message body is empty")
	case utf8.RuneCountInString(m.Body) > outreach.MaxBodyLen:
		return refuse(CodeTooLong, "the message body is over 1600 characters")
	}
	p := n.phones[m.To]
	if p == nil && n.def != nil {
		p = n.add(m.To, Persona{})
		p.persona = n.def(p.rnd)
	}
	if p == nil || p.persona.Unreachable {
		return refuse(CodeUnreachable, "the To number cannot be reached by SMS")
	}
	if !notice && p.optedOut(m.From, now) {
		return refuse(CodeOptedOut, "the recipient has opted out of messages from this sender (STOP)")
	}

	msg := Message{
		SID:       n.newSID(p.sidRnd),
		Key:       m.Key,
		From:      m.From,
		To:        m.To,
		Body:      m.Body,
		At:        now,
		Delivered: !p.persona.Undeliverable,
	}
	n.msgs = append(n.msgs, msg)
	p.accepted = append(p.accepted, len(n.msgs)-1)
	rep := DeliveryReport{ProviderID: msg.SID, Status: "delivered", At: now.Add(ReportDelay)}
	if !msg.Delivered {
		rep.Status, rep.ErrorCode = "undelivered", CodeUndeliverable
	}
	n.seq++
	if n.reports.push(entry[DeliveryReport]{at: rep.At, seq: n.seq, v: rep}) {
		n.wakeUp()
	}
	if msg.Delivered && !notice {
		p.receive(msg, now)
	}
	return msg.SID, nil
}

// newSID returns an SID not used before on the network. Called with n.mu held.
func (n *Network) newSID(r *rand.Rand) string {
	for {
		sid := fmt.Sprintf("SM%016x%016x", r.Uint64(), r.Uint64())
		if !n.sids[sid] {
			n.sids[sid] = true
			return sid
		}
	}
}

// queueReply queues a text from a phone. Called with n.mu held.
func (n *Network) queueReply(in outreach.InboundMessage) {
	n.seq++
	if n.replies.push(entry[outreach.InboundMessage]{at: in.ReceivedAt, seq: n.seq, v: in}) {
		n.wakeUp()
	}
}

// wakeUp tells waiting Run loops that a queue has a new head. Called with
// n.mu held.
func (n *Network) wakeUp() {
	close(n.wake)
	n.wake = make(chan struct{})
}

// Messages returns every message the network accepted, in order.
func (n *Network) Messages() []Message {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.msgs)
}

// Refusals returns the messages the network refused (not those a
// [Sender] failed on purpose), in order. A test can check with it that a
// sender did not even try to reach a number that opted out.
func (n *Network) Refusals() []Refusal {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.refused)
}

// Find returns the first message the network accepted for to from from
// with this body at or after since, the way a provider's message list is
// searched when there is no idempotency key.
func (n *Network) Find(to, from, body string, since time.Time) (Message, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.phones[to]
	if p == nil {
		return Message{}, false
	}
	for _, i := range p.accepted {
		m := n.msgs[i]
		if m.From == from && m.Body == body && !m.At.Before(since) {
			return m, true
		}
	}
	return Message{}, false
}

// CountByKey counts the accepted messages by key (messages with no key
// are left out): a sender that keeps its at-most-once promise never
// counts more than 1.
func (n *Network) CountByKey() map[outreach.SendKey]int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := make(map[outreach.SendKey]int)
	for _, m := range n.msgs {
		if !m.Key.IsZero() {
			c[m.Key]++
		}
	}
	return c
}

// Due removes and returns the texts the phones sent by now, oldest first
// (texts due at the same time in the order they were decided). Each has
// From set to the phone, To to the sending number, a unique ProviderID
// and ReceivedAt set to the time it was sent.
func (n *Network) Due(now time.Time) []outreach.InboundMessage {
	n.mu.Lock()
	defer n.mu.Unlock()
	return values(n.replies.popDue(now))
}

// NextDue returns when the next text from a phone is due.
func (n *Network) NextDue() (time.Time, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.replies.next()
}

// DeliveryReports removes and returns the delivery reports due by now,
// oldest first. Each accepted message gets one, [ReportDelay] after it
// was accepted.
func (n *Network) DeliveryReports(now time.Time) []DeliveryReport {
	n.mu.Lock()
	defer n.mu.Unlock()
	return values(n.reports.popDue(now))
}

// NextReport returns when the next delivery report is due.
func (n *Network) NextReport() (time.Time, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.reports.next()
}

// Run passes each text from a phone to handle when it falls due by the
// network's clock, oldest first, until ctx is done; it then returns
// ctx.Err(). It waits with the clock's After, so it works in real time and
// with an [outreach.ManualClock] moved by another goroutine. If handle
// fails, Run puts the text back (with those popped after it) and returns
// the error; a later Run or Due gets them again.
//
// Run starts no goroutine. Several Run loops may share a network; each
// text goes to one of them.
func (n *Network) Run(ctx context.Context, handle func(context.Context, outreach.InboundMessage) error) error {
	return run(ctx, n, &n.replies, handle)
}

// RunReports is [Network.Run] for delivery reports.
func (n *Network) RunReports(ctx context.Context, handle func(context.Context, DeliveryReport) error) error {
	return run(ctx, n, &n.reports, handle)
}

func run[T any](ctx context.Context, n *Network, q *queue[T], handle func(context.Context, T) error) error {
	for {
		n.mu.Lock()
		next, ok := q.next()
		wake := n.wake
		n.mu.Unlock()

		var timer <-chan time.Time // nil blocks: nothing queued
		if ok {
			timer = n.clock.After(next.Sub(n.clock.Now()))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
			continue
		case <-timer:
		}

		n.mu.Lock()
		due := q.popDue(n.clock.Now())
		n.mu.Unlock()
		for i, e := range due {
			err := ctx.Err()
			if err == nil {
				if err = handle(ctx, e.v); err != nil {
					err = fmt.Errorf("simphone: handler failed: %w", err)
				}
			}
			if err != nil {
				n.mu.Lock()
				for _, r := range due[i:] {
					if q.push(r) {
						n.wakeUp()
					}
				}
				n.mu.Unlock()
				return err
			}
		}
	}
}
