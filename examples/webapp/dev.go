package main

import (
	"context"
	"fmt"
	"iter"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/simphone"
	"github.com/patient-outreach/sms/outreach/twiliotest"
	"github.com/patient-outreach/sms/studio"
	"github.com/patient-outreach/sms/studio/studiotest"
)

// devMode is the in-process fake Twilio of dev mode, with its simulated
// phones: the app talks to it with the real twilio-go client, and it calls
// the app's webhooks as Twilio would. The whole simulated world (the
// runtimes, the fake, the phones, the Studio interpreter) runs on one
// simulated clock, which the operator can move forward past quiet hours.
type devMode struct {
	srv    *twiliotest.Server
	net    *simphone.Network
	clock  *outreach.OffsetClock
	number string

	mu sync.Mutex
	// names are the first names of the recipients at each phone number
	// (family members share phones), for the simulator page.
	names map[string][]string
	// history is what a phone received and sent before the app
	// restarted, read back from the store (the phones themselves start
	// empty).
	history map[string][]simEntry
}

func newDevMode(cfg *config, logger *slog.Logger, start time.Time) *devMode {
	clock := outreach.NewOffsetClock(start)
	net := simphone.New(clock, uint64(time.Now().UnixNano()))
	srv := twiliotest.New(twiliotest.Options{
		Clock:   clock,
		Network: net,
		Numbers: []string{cfg.PhoneNumber},
		// Studio executions run here too, interpreted from the deployed
		// definitions, at Twilio's rate limit.
		Studio:              studiotest.NewInterpreter(studiotest.InterpreterOptions{Logger: logger}),
		ExecutionsPerSecond: studio.MaxExecutionsPerSecond,
		OnWebhookError: func(err error) {
			logger.Warn("fake twilio: webhook not delivered", "err", err)
		},
	})
	// Replies to the number come to the app's own webhook, as a real
	// number's SmsUrl would be set in the Twilio console.
	srv.SetSmsURL(cfg.PhoneNumber, cfg.PublicBaseURL+"/twilio/sms")
	return &devMode{
		srv: srv, net: net, clock: clock, number: cfg.PhoneNumber,
		names: map[string][]string{}, history: map[string][]simEntry{},
	}
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
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range recipients {
		if d.net.Phone(r.Phone) == nil {
			d.net.Add(r.Phone, simphone.Persona{Silent: true})
		}
		if name := strings.TrimSpace(r.FirstName); name != "" && !slices.Contains(d.names[r.Phone], name) {
			d.names[r.Phone] = append(d.names[r.Phone], name)
		}
	}
}

// withPhones passes recipients on, putting a simulated phone on the
// network for each (as addPhones does) as it goes.
func (d *devMode) withPhones(recipients iter.Seq2[outreach.Recipient, error]) iter.Seq2[outreach.Recipient, error] {
	return func(yield func(outreach.Recipient, error) bool) {
		for r, err := range recipients {
			if err == nil {
				d.addPhones([]outreach.Recipient{r})
			}
			if !yield(r, err) {
				return
			}
		}
	}
}

// devWorld is what dev mode finds in the store at start: the recipients
// of unfinished campaigns of the dev world, what their phones received and sent, and the
// latest time the simulated world had reached (that of the latest
// message sent or received: the store dates some records by the system
// clock).
type devWorld struct {
	recipients []outreach.Recipient
	history    map[string][]simEntry
	latest     time.Time
}

// loadDevWorld reads the dev world back from the store, so that a
// restarted (or killed) dev-mode app recreates the phones of unfinished
// campaigns and carries on: without them every later message would fail
// as unreachable (21612).
func loadDevWorld(ctx context.Context, store outreach.Store) (devWorld, error) {
	w := devWorld{history: map[string][]simEntry{}}
	later := func(t time.Time) {
		if t.After(w.latest) {
			w.latest = t
		}
	}
	cs, err := store.Campaigns(ctx)
	if err != nil {
		return w, err
	}
	for _, c := range cs {
		if c.Status.Finished() || c.World != outreach.WorldDev {
			continue // another world's phones are not ours to recreate
		}
		for after := int64(0); ; {
			convs, err := store.Conversations(ctx, c.ID, after, 500)
			if err != nil {
				return w, err
			}
			if len(convs) == 0 {
				break
			}
			for _, cv := range convs {
				after = cv.ID
				w.recipients = append(w.recipients, cv.Recipient)
				msgs, err := store.Messages(ctx, cv.ID)
				if err != nil {
					return w, err
				}
				for _, m := range msgs {
					switch {
					case m.Direction == outreach.Inbound:
						later(m.SentAt)
						w.history[cv.Recipient.Phone] = append(w.history[cv.Recipient.Phone], simEntry{At: m.SentAt, Body: m.Body})
					case m.ProviderID != "" && !m.SentAt.IsZero():
						later(m.SentAt)
						w.history[cv.Recipient.Phone] = append(w.history[cv.Recipient.Phone], simEntry{At: m.SentAt, Incoming: true, Body: m.Body})
					}
				}
			}
		}
	}
	return w, nil
}

// restore recreates the phones of w and keeps their history for the
// simulator page.
func (d *devMode) restore(w devWorld) {
	d.addPhones(w.recipients)
	d.mu.Lock()
	defer d.mu.Unlock()
	for phone, h := range w.history {
		d.history[phone] = append(d.history[phone], h...)
	}
}

// simEntry is one line of a phone's conversation on the simulator page.
type simEntry struct {
	At       time.Time
	Incoming bool // received by the phone
	Body     string
	Before   bool // from before the app restarted
}

type simPhone struct {
	Number  string
	Names   string
	Anchor  string
	Entries []simEntry
	Waiting bool // the last message is a question not answered yet
}

type simulatorView struct {
	Number string
	Phones []simPhone
	Skip   skipView
}

// simulatorPage lists the simulated phones, with the names of their
// recipients, and what each received and sent. The numbers and names are
// made up by the operator's CSV; in production there is no such page.
func (a *app) simulatorPage(w http.ResponseWriter, r *http.Request) {
	var phones []simPhone
	a.dev.mu.Lock()
	names := make(map[string]string, len(a.dev.names))
	for k, v := range a.dev.names {
		names[k] = strings.Join(v, ", ")
	}
	history := make(map[string][]simEntry, len(a.dev.history))
	for k, v := range a.dev.history {
		history[k] = slices.Clone(v)
	}
	a.dev.mu.Unlock()
	for _, p := range a.dev.net.Phones() {
		sp := simPhone{Number: p.Number(), Names: names[p.Number()], Anchor: "phone-" + strings.TrimPrefix(p.Number(), "+")}
		for _, e := range history[p.Number()] {
			e.Before = true
			sp.Entries = append(sp.Entries, e)
		}
		var live []simEntry
		for _, m := range p.Inbox() {
			live = append(live, simEntry{At: m.At, Incoming: true, Body: m.Body})
		}
		for _, rep := range p.Replies() {
			live = append(live, simEntry{At: rep.At, Body: rep.Body})
		}
		slices.SortStableFunc(live, func(x, y simEntry) int { return x.At.Compare(y.At) })
		sp.Entries = append(sp.Entries, live...)
		if n := len(sp.Entries); n > 0 && sp.Entries[n-1].Incoming && simphone.IsQuestion(sp.Entries[n-1].Body) {
			sp.Waiting = true
		}
		phones = append(phones, sp)
	}
	skip, err := a.skipView(r.Context(), 0)
	if err != nil {
		a.internalError(w, r, "reading the schedule", err)
		return
	}
	a.render(w, r, http.StatusOK, "simulator", pageData{Title: "Phone simulator", Nav: "simulator", Page: simulatorView{
		Number: a.dev.number, Phones: phones, Skip: skip,
	}})
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

// skipView is the "Skip to the next sending window" control of dev mode.
type skipView struct {
	Show       bool      `json:"show"`     // dev mode, and something waits for the window
	CampaignID int64     `json:"campaign"` // zero: every running campaign
	To         time.Time `json:"to"`       // where the clock would go
	In         string    `json:"in"`       // how far ahead, such as "in 4 h 12 min"
}

// skipView says where the skip control of a page would move the clock:
// to the earliest next send of campaign id (zero: of every running
// campaign). Show is false outside dev mode or when nothing waits.
func (a *app) skipView(ctx context.Context, id int64) (skipView, error) {
	v := skipView{CampaignID: id}
	if a.dev == nil {
		return v, nil
	}
	to, ok, err := a.nextWindow(ctx, id)
	if err != nil || !ok {
		return v, err
	}
	v.Show, v.To, v.In = true, to, untilText(to.Sub(a.dev.clock.Now()))
	return v, nil
}

// skipOf is the skip control of campaign c, whose schedule is s.
func (a *app) skipOf(c outreach.Campaign, s campaignSchedule) skipView {
	v := skipView{CampaignID: c.ID}
	if a.dev == nil || c.Status != outreach.CampaignRunning || s.Next.IsZero() {
		return v
	}
	v.Show, v.To, v.In = true, s.Next, untilText(s.Next.Sub(a.dev.clock.Now()))
	return v
}

// nextWindow returns the earliest next send of the running campaign id
// (zero: of every running campaign) that waits for its sending window.
func (a *app) nextWindow(ctx context.Context, id int64) (time.Time, bool, error) {
	var ids []int64
	if id != 0 {
		ids = []int64{id}
	} else {
		cs, err := a.store.Campaigns(ctx)
		if err != nil {
			return time.Time{}, false, err
		}
		for _, c := range cs {
			if c.Status == outreach.CampaignRunning && c.World == outreach.WorldDev {
				ids = append(ids, c.ID)
			}
		}
	}
	var best time.Time
	for _, id := range ids {
		c, err := a.store.Campaign(ctx, id)
		if err != nil {
			return time.Time{}, false, err
		}
		if c.Status != outreach.CampaignRunning {
			continue
		}
		s, err := a.schedule(ctx, c)
		if err != nil {
			return time.Time{}, false, err
		}
		if !s.Next.IsZero() && (best.IsZero() || s.Next.Before(best)) {
			best = s.Next
		}
	}
	return best, !best.IsZero(), nil
}

// skipClock moves the simulated clock to the earliest next send (of the
// campaign in the form, or of every running campaign) and wakes the
// runtimes. Only the simulated world's clock moves: quiet hours,
// at-most-once and opt-outs are as strict as ever. Dev mode only: with
// real Twilio the route does not exist.
func (a *app) skipClock(w http.ResponseWriter, r *http.Request) {
	var id int64
	if v := r.PostFormValue("campaign"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			a.errorPage(w, r, http.StatusBadRequest, "That campaign number is not valid.")
			return
		}
		id = n
	}
	back := "/simulator"
	if id != 0 {
		back = "/campaigns/" + strconv.FormatInt(id, 10)
	}
	if ref := r.PostFormValue("back"); ref == "/simulator" {
		back = ref
	}
	to, ok, err := a.nextWindow(r.Context(), id)
	if err != nil {
		a.internalError(w, r, "reading the schedule", err)
		return
	}
	now := a.dev.clock.Now()
	switch {
	case !ok:
		a.flash(r, "Nothing is waiting for a sending window.")
	case !to.After(now):
		a.flash(r, "The sending window is open already: the messages go out now.")
		a.runner.Wake()
	default:
		a.dev.clock.SkipTo(to)
		a.runner.Wake()
		a.log.Info("dev clock skipped", "by", to.Sub(now).Round(time.Second).String())
		a.flash(r, fmt.Sprintf("The simulated clock moved forward %s, to the next sending window.", strings.TrimPrefix(untilText(to.Sub(now)), "in ")))
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}
