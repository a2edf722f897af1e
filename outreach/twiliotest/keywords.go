package twiliotest

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"

	"github.com/patient-outreach/sms/outreach"
)

// Twilio's default answers to the opt-out, opt-in and help keywords on
// long codes (no Advanced Opt-Out): the fake sends them as Twilio does, so
// an application must not send confirmations of its own. Keywords and
// texts follow Twilio's "Twilio support for opt-out keywords (SMS STOP
// filtering)",
// https://help.twilio.com/hc/en-us/articles/223134027-Twilio-support-for-opt-out-keywords-SMS-STOP-filtering-
// and the default list of
// https://www.twilio.com/docs/messaging/tutorials/advanced-opt-out (opt-out:
// STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT; opt-in:
// START, UNSTOP, YES; help: HELP, INFO).
const (
	OptOutConfirmation = "You have successfully been unsubscribed. You will not receive any more messages from this number. Reply START to resubscribe."
	OptInConfirmation  = "You have successfully been re-subscribed to messages from this number. Reply HELP for help. Reply STOP to unsubscribe. Msg&Data Rates May Apply."
	HelpResponse       = "Reply STOP to unsubscribe. Msg&Data Rates May Apply."
)

// Direction of the messages the fake sends on its own or from a webhook's
// TwiML answer, as Twilio names them.
const directionReply = "outbound-reply"

type keyword int

const (
	noKeyword keyword = iota
	optOutKeyword
	optInKeyword
	yesKeyword // START only from a number that opted out
	helpKeyword
)

// twilioKeyword reads Twilio's standard keywords: the whole text, in any
// case, spaces and punctuation around it ignored (as the simulated phones
// read them, so that the fake's opt-out list and the network's agree).
func twilioKeyword(body string) keyword {
	w := strings.ToUpper(strings.TrimFunc(body, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}))
	switch w {
	case "STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT":
		return optOutKeyword
	case "START", "UNSTOP":
		return optInKeyword
	case "YES":
		return yesKeyword
	case "HELP", "INFO":
		return helpKeyword
	}
	return noKeyword
}

func optKey(number, phone string) string { return number + "|" + phone }

// OptedOut reports whether phone has texted STOP (or a synonym) to the
// provisioned number and not START, UNSTOP or YES since: the fake then
// refuses messages from number to phone with error 21610, as Twilio does.
func (s *Server) OptedOut(number, phone string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.optOuts[optKey(number, phone)]
}

// keywordAnswer applies an opt-out, opt-in or help keyword that phone
// texted to the provisioned number, as Twilio does on long codes: the fake
// records the opt-out (or removes it) and answers with Twilio's
// confirmation, or answers HELP and INFO with [HelpResponse]; the text
// still goes on to the number's webhook, whose TwiML may answer too. YES
// is an opt-in only from a number that opted out (otherwise it is an
// answer like any other). A number that opted out gets no HELP answer
// until it opts back in, as Twilio documents for toll-free numbers
// (https://support.twilio.com/hc/en-us/articles/360058144374); the fake
// never sends anything but an opt-in or opt-out confirmation to an
// opted-out number. Called with s.mu held.
func (s *Server) keywordAnswer(ctx context.Context, number, phone, body string) {
	k := optKey(number, phone)
	reply := ""
	switch twilioKeyword(body) {
	case optOutKeyword:
		s.optOuts[k] = true
		reply = OptOutConfirmation
	case yesKeyword:
		if !s.optOuts[k] {
			return
		}
		fallthrough
	case optInKeyword:
		delete(s.optOuts, k)
		reply = OptInConfirmation
	case helpKeyword:
		if s.optOuts[k] {
			return
		}
		reply = HelpResponse
	default:
		return
	}
	s.sendReply(ctx, number, phone, reply, true)
}

// sendReply sends body from the provisioned number to phone, as Twilio
// sends its keyword confirmations (notice: they reach a number that
// opted out) and the <Message> of a webhook's TwiML answer. The message
// is recorded with Direction "outbound-reply" and no status callback;
// one the network refuses is recorded as failed with its error code.
// Called with s.mu held.
func (s *Server) sendReply(ctx context.Context, from, to, body string, notice bool) {
	now := s.clock.Now()
	m := outreach.OutboundMessage{From: from, To: to, Body: body}
	var (
		sid string
		err error
	)
	if !notice && s.optOuts[optKey(from, to)] {
		err = &outreach.SendError{Kind: outreach.Permanent, Code: "21610", OptedOut: true}
	} else if notice {
		sid, err = s.net.Notify(ctx, m)
	} else {
		sid, err = s.net.Deliver(ctx, m)
	}
	msg := &message{Message{
		SID: sid, From: from, To: to, Body: body, Status: "queued",
		Direction: directionReply, DateCreated: now, DateUpdated: now,
	}}
	if err != nil {
		var se *outreach.SendError
		code := 20500
		if errors.As(err, &se) {
			if c, cerr := strconv.Atoi(se.Code); cerr == nil {
				code = c
			}
		}
		msg.SID, msg.Status, msg.ErrorCode = s.sid("SM"), "failed", code
		s.msgs = append(s.msgs, msg)
		s.bySID[msg.SID] = msg
		return
	}
	s.msgs = append(s.msgs, msg)
	s.bySID[sid] = msg
	s.schedule(event{at: now, sid: sid, status: "queued"})
	s.schedule(event{at: now.Add(SentDelay), sid: sid, status: "sent"})
}

// twiml is the part of a TwiML messaging answer the fake acts on: each
// <Message>, with its text as the body (or a <Body> element).
type twiml struct {
	XMLName  xml.Name `xml:"Response"`
	Messages []struct {
		Text string `xml:",chardata"`
		Body string `xml:"Body"`
	} `xml:"Message"`
}

// maxTwiML bounds the answer of an incoming-message webhook that is read.
const maxTwiML = 64 << 10

// answerTwiML sends the <Message> replies of an incoming-message
// webhook's TwiML answer from the number texted (h.replyFrom) to the
// phone that texted (h.replyTo), as Twilio does. An empty answer or an
// empty <Response/> sends nothing; an answer that is not TwiML is an
// error (Twilio's 12100), naming the URL only.
func (s *Server) answerTwiML(ctx context.Context, h webhook, body io.Reader) error {
	b, err := io.ReadAll(io.LimitReader(body, maxTwiML))
	if err != nil {
		return fmt.Errorf("twiliotest: webhook %s: read the answer: %w", h.url, err)
	}
	if strings.TrimSpace(string(b)) == "" {
		return nil
	}
	var t twiml
	if err := xml.Unmarshal(b, &t); err != nil {
		return fmt.Errorf("twiliotest: webhook %s answered a document that is not TwiML (Twilio error 12100): %v", h.url, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range t.Messages {
		text := strings.TrimSpace(m.Text)
		if m.Body != "" {
			text = strings.TrimSpace(m.Body)
		}
		if text != "" {
			s.sendReply(ctx, h.replyFrom, h.replyTo, text, false)
		}
	}
	return nil
}
