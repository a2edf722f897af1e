package main

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/simphone"
	"github.com/patient-outreach/sms/outreach/twiliotest"
	"github.com/patient-outreach/sms/studio"
)

// devMode is the in-process fake Twilio of dev mode, with its simulated
// phones: the app talks to it with the real twilio-go client, and it calls
// the app's webhooks as Twilio would.
type devMode struct {
	srv    *twiliotest.Server
	net    *simphone.Network
	number string
}

func newDevMode(cfg *config, logger *slog.Logger) *devMode {
	net := simphone.New(outreach.SystemClock{}, uint64(time.Now().UnixNano()))
	srv := twiliotest.New(twiliotest.Options{
		Clock:   outreach.SystemClock{},
		Network: net,
		Numbers: []string{cfg.PhoneNumber},
		// Studio executions run here too, interpreted from the deployed
		// definitions, at Twilio's rate limit.
		Studio:              studio.NewInterpreter(studio.InterpreterOptions{Logger: logger}),
		ExecutionsPerSecond: studio.MaxExecutionsPerSecond,
		OnWebhookError: func(err error) {
			logger.Warn("fake twilio: webhook not delivered", "err", err)
		},
	})
	// Replies to the number come to the app's own webhook, as a real
	// number's SmsUrl would be set in the Twilio console.
	srv.SetSmsURL(cfg.PhoneNumber, cfg.PublicBaseURL+"/twilio/sms")
	return &devMode{srv: srv, net: net, number: cfg.PhoneNumber}
}

func (d *devMode) account() twilioAccount {
	return twilioAccount{AccountSID: d.srv.AccountSID(), AuthToken: d.srv.AuthToken(), HTTPClient: d.srv.HTTPClient()}
}

// run delivers status callbacks and the phones' texts until ctx is done.
func (d *devMode) run(ctx context.Context) { _ = d.srv.Run(ctx) }

func (d *devMode) close() { d.srv.Close() }

// addPhones puts a simulated phone on the network for each recipient
// that has none. These patients never answer on their own: the operator
// answers for them on the simulator page.
func (d *devMode) addPhones(recipients []outreach.Recipient) {
	for _, r := range recipients {
		if d.net.Phone(r.Phone) == nil {
			d.net.Add(r.Phone, simphone.Persona{Silent: true})
		}
	}
}

// simEntry is one line of a phone's conversation on the simulator page.
type simEntry struct {
	At       time.Time
	Incoming bool // received by the phone
	Body     string
}

type simPhone struct {
	Number  string
	Anchor  string
	Entries []simEntry
	Waiting bool // the last message is a question not answered yet
}

// simulatorPage lists the simulated phones and what each received and
// sent. The numbers and names are made up by the operator's CSV; in
// production there is no such page.
func (a *app) simulatorPage(w http.ResponseWriter, r *http.Request) {
	var phones []simPhone
	for _, p := range a.dev.net.Phones() {
		sp := simPhone{Number: p.Number(), Anchor: "phone-" + strings.TrimPrefix(p.Number(), "+")}
		for _, m := range p.Inbox() {
			sp.Entries = append(sp.Entries, simEntry{At: m.At, Incoming: true, Body: m.Body})
		}
		for _, rep := range p.Replies() {
			sp.Entries = append(sp.Entries, simEntry{At: rep.At, Body: rep.Body})
		}
		slices.SortStableFunc(sp.Entries, func(x, y simEntry) int { return x.At.Compare(y.At) })
		if n := len(sp.Entries); n > 0 && sp.Entries[n-1].Incoming && simphone.IsQuestion(sp.Entries[n-1].Body) {
			sp.Waiting = true
		}
		phones = append(phones, sp)
	}
	a.render(w, r, http.StatusOK, "simulator", pageData{Title: "Phone simulator", Nav: "simulator", Page: struct {
		Number string
		Phones []simPhone
	}{a.dev.number, phones}})
}

// simulatorReply texts the app's number from a simulated phone; the fake
// Twilio then delivers it to the inbound webhook.
func (a *app) simulatorReply(w http.ResponseWriter, r *http.Request) {
	number := r.PostFormValue("phone")
	body := strings.TrimSpace(r.PostFormValue("body"))
	p := a.dev.net.Phone(number)
	switch {
	case p == nil:
		a.flashError(r, "There is no simulated phone with that number.")
	case body == "":
		a.flashError(r, "Type a reply first.")
	case len(body) > outreach.MaxBodyLen:
		a.flashError(r, "That reply is too long for a text message.")
	default:
		p.Text(a.dev.number, body)
		a.flash(r, "Reply sent from "+outreach.MaskPhone(number)+".")
	}
	http.Redirect(w, r, "/simulator#phone-"+strings.TrimPrefix(number, "+"), http.StatusSeeOther)
}
