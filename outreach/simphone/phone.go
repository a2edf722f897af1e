package simphone

import (
	"math/rand/v2"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/patient-outreach/sms/outreach"
)

// DefaultDelay is how long a persona with no Delay takes to reply.
const DefaultDelay = time.Minute

// Persona says how a simulated patient behaves.
type Persona struct {
	// Responder chooses the replies; nil means [Smart].
	Responder Responder
	// Delay is how long the patient takes to reply; zero means
	// [DefaultDelay] and a negative Delay replies at once.
	Delay time.Duration
	// Jitter adds a random extra delay in [0, Jitter) to each reply.
	Jitter time.Duration
	// Silent patients never answer, nor text STOP on their own (they still
	// receive messages).
	Silent bool
	// StopAfter > 0 makes the patient text STOP, instead of answering, to
	// the sender of the StopAfter-th message they receive. The network then
	// refuses that sender's messages with error 21610 once the STOP is sent.
	StopAfter int
	// InvalidFirst is the probability that the first reply to a question is
	// gibberish that no answer kind accepts (such as "??"), to exercise
	// re-asks. The question that follows such a reply from the same sender
	// (the re-ask) is answered by the Responder.
	InvalidFirst float64
	// Unreachable numbers are refused by the network for good (Twilio error
	// 21612): nothing is recorded.
	Unreachable bool
	// Undeliverable numbers have their messages accepted, but never
	// delivered: the delivery report says "undelivered" with error 30003
	// and the patient neither sees nor answers them.
	Undeliverable bool
}

// RandomPersona draws a persona from a mix that resembles a real patient
// list, for simulations and dev mode: 70% answer within one to five
// minutes ([Smart], a first reply to a question invalid one time in ten);
// 10% answer within half an hour to an hour and a half, often after the
// question timed out; 10% never answer; 6% text STOP after one to three
// messages; 2% are undeliverable and 2% unreachable.
func RandomPersona(rnd *rand.Rand) Persona {
	n := rnd.IntN(100)
	switch {
	case n < 70:
		return Persona{Delay: time.Minute, Jitter: 4 * time.Minute, InvalidFirst: 0.1}
	case n < 80:
		return Persona{Delay: 30 * time.Minute, Jitter: time.Hour, InvalidFirst: 0.1}
	case n < 90:
		return Persona{Silent: true}
	case n < 96:
		return Persona{StopAfter: 1 + rnd.IntN(3), Jitter: 4 * time.Minute}
	case n < 98:
		return Persona{Undeliverable: true}
	}
	return Persona{Unreachable: true}
}

// Message is an outbound message the network accepted for a phone.
type Message struct {
	// SID is the network's id for the message, like a Twilio Message SID.
	SID string
	// Key is the sender's key for the message (zero when it has none).
	Key  outreach.SendKey
	From string
	To   string
	Body string
	// At is when the network accepted the message.
	At time.Time
	// Delivered is false when the phone is Undeliverable.
	Delivered bool
}

// Reply is a text a phone sent: an answer to a message, a STOP, or any
// text sent with [Phone.Text].
type Reply struct {
	// SID is the network's id for the text (the inbound ProviderID).
	SID string
	// From is the phone's number; To is the sending number it went to.
	From string
	To   string
	Body string
	// At is when the phone sends the text, which is when it becomes due
	// from [Network.Due]; it may still be in the future.
	At time.Time
	// InReplyTo is the SID of the message answered; empty for texts sent
	// with [Phone.Text].
	InReplyTo string
	// Key and Question are the key and body of the message answered.
	Key      outreach.SendKey
	Question string
}

// Phone is a simulated patient's phone on a [Network]. Its methods are
// safe for concurrent use.
type Phone struct {
	net    *Network
	number string

	// Guarded by net.mu.
	persona     Persona
	rnd         *rand.Rand // behaviour
	sidRnd      *rand.Rand // message SIDs
	accepted    []int      // indexes in net.msgs of the messages accepted for this phone
	replies     []Reply
	received    int
	stopSent    bool            // StopAfter has fired
	stopping    map[string]bool // senders this phone has texted STOP to (and not START since)
	lastInvalid map[string]bool // senders whose last question got gibberish
	optEvents   []optEvent
}

// optEvent is a STOP (stop true) or START the phone texted to a sender;
// it takes effect at the time the text is sent.
type optEvent struct {
	at   time.Time
	to   string
	stop bool
}

// Number returns the phone's number.
func (p *Phone) Number() string { return p.number }

// Persona returns the phone's persona.
func (p *Phone) Persona() Persona {
	p.net.mu.Lock()
	defer p.net.mu.Unlock()
	return p.persona
}

// Inbox returns the messages delivered to the phone, oldest first.
func (p *Phone) Inbox() []Message {
	p.net.mu.Lock()
	defer p.net.mu.Unlock()
	var out []Message
	for _, i := range p.accepted {
		if m := p.net.msgs[i]; m.Delivered {
			out = append(out, m)
		}
	}
	return out
}

// Replies returns the texts the phone sent or has decided to send, in the
// order it decided them, including those not yet due.
func (p *Phone) Replies() []Reply {
	p.net.mu.Lock()
	defer p.net.mu.Unlock()
	return slices.Clone(p.replies)
}

// OptedOut reports whether the phone has texted STOP (or a synonym) to the
// sending number from, and not START since, as of the clock's time.
func (p *Phone) OptedOut(from string) bool {
	p.net.mu.Lock()
	defer p.net.mu.Unlock()
	return p.optedOut(from, p.net.clock.Now())
}

// Text makes the phone send body to the sending number to, at once: it is
// due from [Network.Due] at the clock's current time. STOP, START and
// their synonyms (and YES after a STOP) change the phone's opt-out state
// for that sender, as Twilio does.
func (p *Phone) Text(to, body string) Reply {
	p.net.mu.Lock()
	defer p.net.mu.Unlock()
	return p.send(to, body, p.net.clock.Now(), nil)
}

func (p *Phone) optedOut(from string, now time.Time) bool {
	// The latest text sent by now wins; of two sent at the same time, the
	// one texted last.
	var last *optEvent
	for i := range p.optEvents {
		e := &p.optEvents[i]
		if e.to == from && !e.at.After(now) && (last == nil || !e.at.Before(last.at)) {
			last = e
		}
	}
	return last != nil && last.stop
}

// receive is called with net.mu held for each message delivered to the
// phone, and schedules its reply, if any.
func (p *Phone) receive(m Message, now time.Time) {
	p.received++
	pe := p.persona
	if pe.Silent || p.stopping[m.From] {
		return
	}
	if pe.StopAfter > 0 && !p.stopSent && p.received >= pe.StopAfter {
		p.stopSent = true
		p.send(m.From, "STOP", now.Add(p.delay()), &m)
		return
	}
	if pe.InvalidFirst > 0 && IsQuestion(m.Body) {
		if p.lastInvalid[m.From] {
			delete(p.lastInvalid, m.From)
		} else if p.rnd.Float64() < pe.InvalidFirst {
			p.lastInvalid[m.From] = true
			p.send(m.From, pick(p.rnd, gibberish), now.Add(p.delay()), &m)
			return
		}
	}
	r := pe.Responder
	if r == nil {
		r = Smart()
	}
	body, ok := r.Reply(m.Body, p.rnd)
	if !ok {
		return
	}
	p.send(m.From, body, now.Add(p.delay()), &m)
}

// delay returns the persona's reply delay, with jitter.
func (p *Phone) delay() time.Duration {
	d := p.persona.Delay
	switch {
	case d == 0:
		d = DefaultDelay
	case d < 0:
		d = 0
	}
	if j := p.persona.Jitter; j > 0 {
		d += time.Duration(p.rnd.Int64N(int64(j)))
	}
	return d
}

// send records and queues a text from the phone, due at at, answering m
// (nil for none). Called with net.mu held.
func (p *Phone) send(to, body string, at time.Time, m *Message) Reply {
	r := Reply{
		SID:  p.net.newSID(p.sidRnd),
		From: p.number,
		To:   to,
		Body: body,
		At:   at,
	}
	if m != nil {
		r.InReplyTo, r.Key, r.Question = m.SID, m.Key, m.Body
	}
	kw := keyword(body)
	if kw == noKeyword && p.stopping[to] && isYes(body) {
		// Twilio takes YES as START from a number that opted out.
		kw = optIn
	}
	switch kw {
	case optOut:
		p.stopping[to] = true
		p.optEvents = append(p.optEvents, optEvent{at: at, to: to, stop: true})
	case optIn:
		delete(p.stopping, to)
		p.optEvents = append(p.optEvents, optEvent{at: at, to: to, stop: false})
	}
	p.replies = append(p.replies, r)
	p.net.queueReply(outreach.InboundMessage{
		From:       r.From,
		To:         r.To,
		Body:       r.Body,
		ProviderID: r.SID,
		ReceivedAt: r.At,
	})
	return r
}

// isYes reports whether body is YES, read as [keyword] reads keywords.
func isYes(body string) bool {
	return strings.EqualFold(strings.TrimFunc(body, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}), "YES")
}

type optKeyword int

const (
	noKeyword optKeyword = iota
	optOut
	optIn
)

// keyword reads an opt-out or opt-in keyword as Twilio's carrier-level
// filter does: Twilio's default keywords, the whole text, in any case,
// with surrounding spaces and punctuation (the fake Twilio reads them the
// same way). The library's own reading is wider: see
// outreach.ClassifyOptOut.
func keyword(body string) optKeyword {
	w := strings.ToUpper(strings.TrimFunc(body, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}))
	switch w {
	case "STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT":
		return optOut
	case "START", "UNSTOP":
		return optIn
	}
	return noKeyword
}
