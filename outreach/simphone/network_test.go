package simphone

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"regexp"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

const (
	clinic = "+15005550006"
	other  = "+15005550007"
	ann    = "+14155550100"
	bob    = "+14155550101"
)

var t0 = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)

func newNet(seed uint64) (*Network, *outreach.ManualClock) {
	clock := outreach.NewManualClock(t0)
	return New(clock, seed), clock
}

func msg(to, body string, conv int64) outreach.OutboundMessage {
	return outreach.OutboundMessage{Key: outreach.SendKey{Conversation: conv, Step: "s", Attempt: 1}, From: clinic, To: to, Body: body}
}

var sidRE = regexp.MustCompile(`^SM[0-9a-f]{32}$`)

func TestDeliverAndReply(t *testing.T) {
	ctx := context.Background()
	net, clock := newNet(1)
	p := net.Add(ann, Persona{Responder: Scripted("7")})
	m := msg(ann, "How is your pain, 0-10?", 1)
	sid, err := net.Deliver(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if !sidRE.MatchString(sid) {
		t.Errorf("SID %q is not SM + 32 hex digits", sid)
	}
	want := []Message{{SID: sid, Key: m.Key, From: clinic, To: ann, Body: m.Body, At: t0, Delivered: true}}
	if got := p.Inbox(); !reflect.DeepEqual(got, want) {
		t.Errorf("Inbox = %+v, want %+v", got, want)
	}
	if got := net.Due(t0.Add(DefaultDelay - time.Second)); len(got) != 0 {
		t.Errorf("reply due before the delay: %+v", got)
	}
	at, ok := net.NextDue()
	if !ok || !at.Equal(t0.Add(DefaultDelay)) {
		t.Fatalf("NextDue = %v, %v; want %v", at, ok, t0.Add(DefaultDelay))
	}
	clock.Set(at)
	got := net.Due(clock.Now())
	if len(got) != 1 {
		t.Fatalf("Due = %+v, want one reply", got)
	}
	in := got[0]
	if in.From != ann || in.To != clinic || in.Body != "7" || !in.ReceivedAt.Equal(at) || !sidRE.MatchString(in.ProviderID) || in.ProviderID == sid {
		t.Errorf("reply = %+v", in)
	}
	reps := p.Replies()
	if len(reps) != 1 || reps[0].InReplyTo != sid || reps[0].Key != m.Key || reps[0].Question != m.Body || reps[0].SID != in.ProviderID {
		t.Errorf("Replies = %+v", reps)
	}
	if _, ok := net.NextDue(); ok {
		t.Error("NextDue after the queue emptied: want false")
	}
	if got := net.Due(clock.Now()); len(got) != 0 {
		t.Errorf("Due popped twice: %+v", got)
	}
}

func TestDeliverRefusals(t *testing.T) {
	long := make([]byte, outreach.MaxBodyLen+1)
	for i := range long {
		long[i] = 'a'
	}
	tests := []struct {
		name string
		m    outreach.OutboundMessage
		code string
	}{
		{"not E.164", outreach.OutboundMessage{From: clinic, To: "415-555-0100", Body: "hi"}, CodeInvalidTo},
		{"leading zero", outreach.OutboundMessage{From: clinic, To: "+0415555", Body: "hi"}, CodeInvalidTo},
		{"no from", outreach.OutboundMessage{To: ann, Body: "hi"}, CodeNoFrom},
		{"no body", outreach.OutboundMessage{From: clinic, To: ann}, CodeNoBody},
		{"too long", outreach.OutboundMessage{From: clinic, To: ann, Body: string(long)}, CodeTooLong},
		{"unknown number", outreach.OutboundMessage{From: clinic, To: "+14155550199", Body: "hi"}, CodeUnreachable},
		{"unreachable", outreach.OutboundMessage{From: clinic, To: bob, Body: "hi"}, CodeUnreachable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			net, _ := newNet(1)
			net.Add(ann, Persona{})
			net.Add(bob, Persona{Unreachable: true})
			sid, err := net.Deliver(context.Background(), tt.m)
			var se *outreach.SendError
			if !errors.As(err, &se) || se.Kind != outreach.Permanent || se.Code != tt.code || se.OptedOut {
				t.Fatalf("Deliver = %q, %v; want a permanent error with code %s", sid, err, tt.code)
			}
			if n := len(net.Messages()); n != 0 {
				t.Errorf("%d messages recorded, want none", n)
			}
			want := []Refusal{{From: tt.m.From, To: tt.m.To, Code: tt.code, At: t0}}
			if got := net.Refusals(); !reflect.DeepEqual(got, want) {
				t.Errorf("Refusals = %+v, want %+v", got, want)
			}
		})
	}
}

func TestDeliverCancelled(t *testing.T) {
	net, _ := newNet(1)
	net.Add(ann, Persona{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := net.Deliver(ctx, msg(ann, "hi", 1))
	var se *outreach.SendError
	if !errors.As(err, &se) || se.Kind != outreach.Retryable || !errors.Is(err, context.Canceled) {
		t.Fatalf("Deliver = %v; want a retryable error wrapping context.Canceled", err)
	}
	if len(net.Messages()) != 0 {
		t.Error("a cancelled Deliver recorded a message")
	}
}

func TestStopAndStart(t *testing.T) {
	ctx := context.Background()
	net, clock := newNet(1)
	p := net.Add(ann, Persona{Responder: Scripted("ok"), StopAfter: 2, Delay: 30 * time.Second})

	deliver := func(from string) error {
		m := msg(ann, "How are you?", 1)
		m.From = from
		_, err := net.Deliver(ctx, m)
		return err
	}
	if err := deliver(clinic); err != nil { // 1st: answered "ok"
		t.Fatal(err)
	}
	if err := deliver(clinic); err != nil { // 2nd: STOP, in 30 s
		t.Fatal(err)
	}
	if p.OptedOut(clinic) {
		t.Error("opted out before the STOP was sent")
	}
	if err := deliver(clinic); err != nil { // the STOP is not sent yet: still delivered
		t.Fatalf("before the STOP is sent: %v", err)
	}
	clock.Advance(30 * time.Second)
	var bodies []string
	for _, in := range net.Due(clock.Now()) {
		bodies = append(bodies, in.Body)
	}
	if want := []string{"ok", "STOP"}; !reflect.DeepEqual(bodies, want) {
		t.Fatalf("texts = %q, want %q (no answer after deciding to stop)", bodies, want)
	}
	if !p.OptedOut(clinic) || p.OptedOut(other) {
		t.Errorf("OptedOut(clinic, other) = %v, %v; want true, false", p.OptedOut(clinic), p.OptedOut(other))
	}
	err := deliver(clinic)
	var se *outreach.SendError
	if !errors.As(err, &se) || se.Kind != outreach.Permanent || se.Code != CodeOptedOut || !se.OptedOut {
		t.Fatalf("after STOP: %v; want permanent 21610 with OptedOut", err)
	}
	if r := net.Refusals(); len(r) != 1 || r[0].Code != CodeOptedOut || r[0].To != ann || r[0].From != clinic {
		t.Errorf("Refusals = %+v, want the opted-out attempt", r)
	}
	if err := deliver(other); err != nil {
		t.Errorf("another sending number: %v; want delivered", err)
	}
	inbox := len(p.Inbox())

	p.Text(clinic, " start! ")
	if p.OptedOut(clinic) {
		t.Error("still opted out after START")
	}
	if err := deliver(clinic); err != nil {
		t.Errorf("after START: %v", err)
	}
	if got := len(p.Inbox()); got != inbox+1 {
		t.Errorf("inbox grew from %d to %d, want one more", inbox, got)
	}
	due := net.Due(clock.Now())
	if len(due) != 1 || due[0].Body != " start! " || due[0].To != clinic || !due[0].ReceivedAt.Equal(clock.Now()) {
		t.Errorf("Text: due = %+v, want the START text now", due)
	}
}

func TestStopSynonyms(t *testing.T) {
	for _, body := range []string{"STOP", "stop", "Unsubscribe.", " quit ", "END", "cancel", "StopAll", "revoke", "optout"} {
		net, _ := newNet(1)
		p := net.Add(ann, Persona{})
		p.Text(clinic, body)
		if !p.OptedOut(clinic) {
			t.Errorf("%q did not opt out", body)
		}
	}
	for _, body := range []string{"stop please", "don't stop", "help", "STOPP"} {
		net, _ := newNet(1)
		p := net.Add(ann, Persona{})
		p.Text(clinic, body)
		if p.OptedOut(clinic) {
			t.Errorf("%q opted out", body)
		}
	}
}

func TestPersonas(t *testing.T) {
	const q = "On a scale of 0-10, how is your pain?"
	tests := []struct {
		name    string
		persona Persona
		bodies  []string
		want    []string // the phone's texts, in order
	}{
		{"silent", Persona{Silent: true, Responder: Scripted("7")}, []string{q}, nil},
		{"scripted", Persona{Responder: Scripted("7", "YES")}, []string{"Hi Ann!", q, "Call you? YES/NO"}, []string{"7", "YES"}},
		{"stop after 1", Persona{Responder: Scripted("7"), StopAfter: 1}, []string{"Hi Ann!"}, []string{"STOP"}},
		{"stop after 2", Persona{Responder: Scripted("7", "8"), StopAfter: 2}, []string{q, q}, []string{"7", "STOP"}},
		{"invalid first, then answers the re-ask", Persona{Responder: Scripted("7", "8"), InvalidFirst: 1}, []string{q, "Sorry, please reply with a number. " + q, q},
			[]string{"<gibberish>", "7", "<gibberish>"}},
		{"invalid first skips one-way messages", Persona{Responder: Scripted("7"), InvalidFirst: 1}, []string{"Hi Ann!"}, nil},
		{"undeliverable", Persona{Responder: Scripted("7"), Undeliverable: true}, []string{q}, nil},
		{"smart ignores one-way", Persona{}, []string{"Welcome! Reply STOP to opt out."}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			net, _ := newNet(1)
			p := net.Add(ann, tt.persona)
			for i, b := range tt.bodies {
				if _, err := net.Deliver(context.Background(), msg(ann, b, int64(i+1))); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			for _, in := range net.Due(t0.Add(time.Hour)) {
				b := in.Body
				if _, ok := outreach.MatchAnswer(nil, b); !ok {
					b = "<gibberish>"
				}
				got = append(got, b)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("texts = %q, want %q", got, tt.want)
			}
			if len(p.Replies()) != len(tt.want) {
				t.Errorf("Replies() has %d, want %d", len(p.Replies()), len(tt.want))
			}
		})
	}
}

func TestInvalidFirstShare(t *testing.T) {
	net, _ := newNet(7)
	const n = 400
	for i := range n {
		net.Add(fmt.Sprintf("+1415555%04d", i), Persona{InvalidFirst: 0.25})
		if _, err := net.Deliver(context.Background(), msg(fmt.Sprintf("+1415555%04d", i), "How is your pain, 0-10?", int64(i))); err != nil {
			t.Fatal(err)
		}
	}
	bad := 0
	for _, in := range net.Due(t0.Add(time.Hour)) {
		if _, ok := outreach.MatchAnswer(nil, in.Body); !ok {
			bad++
		}
	}
	if bad < n/8 || bad > n*3/8 {
		t.Errorf("%d of %d first replies invalid, want about a quarter", bad, n)
	}
}

func TestDueOrder(t *testing.T) {
	net, clock := newNet(1)
	delays := map[string]time.Duration{
		"+14155550001": 3 * time.Minute,
		"+14155550002": time.Minute,
		"+14155550003": 2 * time.Minute,
		"+14155550004": time.Minute, // same time as 0002, sent after it
		"+14155550005": -1,          // at once
	}
	order := []string{"+14155550001", "+14155550002", "+14155550003", "+14155550004", "+14155550005"}
	for _, num := range order {
		net.Add(num, Persona{Responder: Scripted(num), Delay: delays[num]})
		if _, err := net.Deliver(context.Background(), msg(num, "Are you OK?", 1)); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	var times []time.Time
	for {
		at, ok := net.NextDue()
		if !ok {
			break
		}
		clock.Set(at)
		for _, in := range net.Due(clock.Now()) {
			got = append(got, in.Body)
			times = append(times, in.ReceivedAt)
		}
	}
	want := []string{"+14155550005", "+14155550002", "+14155550004", "+14155550003", "+14155550001"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("order = %v, want %v", got, want)
	}
	wantTimes := []time.Time{t0, t0.Add(time.Minute), t0.Add(time.Minute), t0.Add(2 * time.Minute), t0.Add(3 * time.Minute)}
	if !reflect.DeepEqual(times, wantTimes) {
		t.Errorf("times = %v, want %v", times, wantTimes)
	}
}

func TestJitter(t *testing.T) {
	net, _ := newNet(1)
	net.Add(ann, Persona{Responder: ResponderFunc(func(string, *rand.Rand) (string, bool) { return "ok", true }), Delay: time.Minute, Jitter: time.Minute})
	seen := map[time.Time]bool{}
	for i := range 20 {
		if _, err := net.Deliver(context.Background(), msg(ann, "x", int64(i))); err != nil {
			t.Fatal(err)
		}
	}
	for _, in := range net.Due(t0.Add(time.Hour)) {
		d := in.ReceivedAt.Sub(t0)
		if d < time.Minute || d >= 2*time.Minute {
			t.Errorf("delay %v outside [1m, 2m)", d)
		}
		seen[in.ReceivedAt] = true
	}
	if len(seen) < 10 {
		t.Errorf("only %d distinct reply times in 20: no jitter?", len(seen))
	}
}

func TestDeliveryReports(t *testing.T) {
	ctx := context.Background()
	net, _ := newNet(1)
	net.Add(ann, Persona{})
	net.Add(bob, Persona{Undeliverable: true})
	sidA, err := net.Deliver(ctx, msg(ann, "Hello", 1))
	if err != nil {
		t.Fatal(err)
	}
	sidB, err := net.Deliver(ctx, msg(bob, "Hello", 2))
	if err != nil {
		t.Fatal(err)
	}
	if at, ok := net.NextReport(); !ok || !at.Equal(t0.Add(ReportDelay)) {
		t.Errorf("NextReport = %v, %v", at, ok)
	}
	if got := net.DeliveryReports(t0.Add(ReportDelay - 1)); len(got) != 0 {
		t.Errorf("reports before ReportDelay: %+v", got)
	}
	want := []DeliveryReport{
		{ProviderID: sidA, Status: "delivered", At: t0.Add(ReportDelay)},
		{ProviderID: sidB, Status: "undelivered", ErrorCode: CodeUndeliverable, At: t0.Add(ReportDelay)},
	}
	if got := net.DeliveryReports(t0.Add(ReportDelay)); !reflect.DeepEqual(got, want) {
		t.Errorf("reports = %+v, want %+v", got, want)
	}
	if len(net.Phone(bob).Inbox()) != 0 {
		t.Error("an undeliverable phone has messages in its inbox")
	}
	if got := net.CountByKey(); got[msg(bob, "", 2).Key] != 1 {
		t.Errorf("CountByKey = %v: an accepted, undelivered message counts", got)
	}
}

func TestSetDefault(t *testing.T) {
	net, _ := newNet(1)
	net.SetDefault(func(*rand.Rand) Persona { return Persona{Responder: Scripted("hi")} })
	if _, err := net.Deliver(context.Background(), msg(ann, "Hello?", 1)); err != nil {
		t.Fatalf("with a default persona: %v", err)
	}
	if p := net.Phone(ann); p == nil || len(p.Inbox()) != 1 {
		t.Fatalf("Phone(%s) = %v, want a phone with one message", ann, p)
	}
	net.SetDefault(nil)
	_, err := net.Deliver(context.Background(), msg(bob, "Hello?", 2))
	var se *outreach.SendError
	if !errors.As(err, &se) || se.Code != CodeUnreachable {
		t.Errorf("without a default persona: %v, want 21612", err)
	}
	if got := len(net.Phones()); got != 1 {
		t.Errorf("%d phones, want 1", got)
	}
}

// transcript runs a fixed scenario and returns everything observable.
func transcript(t *testing.T, seed uint64, reverse bool) string {
	t.Helper()
	net, clock := newNet(seed)
	nums := []string{ann, bob, "+14155550102"}
	for _, num := range nums {
		net.Add(num, Persona{InvalidFirst: 0.3, Jitter: time.Minute})
	}
	if reverse { // a different interleaving of phones must not matter
		nums = []string{nums[2], nums[1], nums[0]}
	}
	for _, body := range []string{"How is your pain, 0-10?", "Call you? YES/NO", "What is your weight?", "Anything else?"} {
		for _, num := range nums {
			if _, err := net.Deliver(context.Background(), msg(num, body, 1)); err != nil {
				t.Fatal(err)
			}
		}
		clock.Advance(time.Hour)
	}
	out := ""
	for _, p := range net.Phones() {
		out += fmt.Sprintf("%s %v %v\n", p.Number(), p.Inbox(), p.Replies())
	}
	return out
}

func TestDeterminism(t *testing.T) {
	a, b := transcript(t, 42, false), transcript(t, 42, false)
	if a != b {
		t.Errorf("same seed, different runs:\n%s\n%s", a, b)
	}
	if c := transcript(t, 42, true); c != a {
		t.Errorf("same seed, phones reached in another order:\n%s\n%s", a, c)
	}
	if d := transcript(t, 43, false); d == a {
		t.Error("seeds 42 and 43 gave the same transcript")
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	net, _ := newNet(1)
	net.Add(ann, Persona{})
	if _, err := net.Deliver(context.Background(), msg(ann, "How are you?", 1)); err != nil { // a reply pending in a minute
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- net.Run(ctx, func(context.Context, outreach.InboundMessage) error { return nil }) }()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if _, ok := net.NextDue(); !ok {
		t.Error("the pending reply was lost")
	}
}

func TestRun(t *testing.T) {
	net, clock := newNet(1)
	net.Add(ann, Persona{Responder: Scripted("slow"), Delay: 10 * time.Minute})
	net.Add(bob, Persona{Responder: Scripted("fast"), Delay: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan outreach.InboundMessage)
	done := make(chan error, 1)
	go func() {
		done <- net.Run(ctx, func(ctx context.Context, in outreach.InboundMessage) error {
			select {
			case got <- in:
			case <-ctx.Done():
			}
			return nil
		})
	}()
	// Run is waiting on nothing, then on ann's reply (10 min); bob's reply
	// (1 min) is scheduled sooner and must wake it.
	if _, err := net.Deliver(ctx, msg(ann, "Q?", 1)); err != nil {
		t.Fatal(err)
	}
	for { // wait until Run sleeps until ann's reply
		if at, ok := clock.NextTimer(); ok && at.Equal(t0.Add(10*time.Minute)) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := net.Deliver(ctx, msg(bob, "Q?", 2)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		body string
		at   time.Duration
	}{{"fast", time.Minute}, {"slow", 10 * time.Minute}} {
		// Move the clock in small steps until Run hands over the reply.
		var in outreach.InboundMessage
		deadline := time.After(5 * time.Second)
	wait:
		for {
			select {
			case in = <-got:
				break wait
			case <-deadline:
				t.Fatalf("%q not handed over by %v", want.body, clock.Now().Sub(t0))
			case <-time.After(time.Millisecond):
				if clock.Now().Before(t0.Add(want.at)) {
					clock.Advance(30 * time.Second)
				}
			}
		}
		if in.Body != want.body || !in.ReceivedAt.Equal(t0.Add(want.at)) {
			t.Errorf("got %q at %v, want %q at %v", in.Body, in.ReceivedAt.Sub(t0), want.body, want.at)
		}
		if clock.Now().After(t0.Add(want.at)) {
			t.Errorf("%q handed over at %v, after it was due (%v)", in.Body, clock.Now().Sub(t0), want.at)
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
}

func TestRunHandlerError(t *testing.T) {
	net, clock := newNet(1)
	net.Add(ann, Persona{Responder: Scripted("a")})
	net.Add(bob, Persona{Responder: Scripted("b")})
	for i, num := range []string{ann, bob} {
		if _, err := net.Deliver(context.Background(), msg(num, "Q?", int64(i))); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(time.Hour)
	boom := errors.New("boom")
	var handled []string
	err := net.Run(context.Background(), func(_ context.Context, in outreach.InboundMessage) error {
		handled = append(handled, in.Body)
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want boom", err)
	}
	if !reflect.DeepEqual(handled, []string{"a"}) {
		t.Errorf("handled %v, want [a]", handled)
	}
	var left []string
	for _, in := range net.Due(clock.Now()) {
		left = append(left, in.Body)
	}
	if !reflect.DeepEqual(left, []string{"a", "b"}) {
		t.Errorf("after the error, due = %v, want [a b] (nothing lost, order kept)", left)
	}
}

func TestRunReports(t *testing.T) {
	net, clock := newNet(1)
	net.Add(ann, Persona{Silent: true})
	sid, err := net.Deliver(context.Background(), msg(ann, "Hello", 1))
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(ReportDelay)
	ctx, cancel := context.WithCancel(context.Background())
	var got []DeliveryReport
	err = net.RunReports(ctx, func(_ context.Context, r DeliveryReport) error {
		got = append(got, r)
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) || len(got) != 1 || got[0].ProviderID != sid || got[0].Status != "delivered" {
		t.Errorf("RunReports = %v, reports %+v", err, got)
	}
}

func TestRandomPersona(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	count := map[string]int{}
	for range 1000 {
		p := RandomPersona(rnd)
		switch {
		case p.Silent:
			count["silent"]++
		case p.StopAfter > 0:
			count["stop"]++
		case p.Undeliverable:
			count["undeliverable"]++
		case p.Unreachable:
			count["unreachable"]++
		case p.Delay >= 30*time.Minute:
			count["slow"]++
		default:
			count["prompt"]++
		}
	}
	want := map[string]int{"prompt": 700, "slow": 100, "silent": 100, "stop": 60, "undeliverable": 20, "unreachable": 20}
	for k, w := range want {
		if got := count[k]; got < w/2 || got > w*3/2 {
			t.Errorf("%s: %d of 1000, want about %d", k, got, w)
		}
	}
}
