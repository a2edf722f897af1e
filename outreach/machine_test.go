package outreach_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/simphone"
)

// echoMachine asks "Anything?" until it has two replies, records each as
// received and counts them in State.Machine.
type echoMachine struct {
	mu   sync.Mutex
	seen []string
}

func (m *echoMachine) Advance(_ context.Context, f *outreach.Flow, conv outreach.Conversation, ev outreach.Event) (outreach.State, []outreach.Action, error) {
	s := conv.State
	var n struct{ N int }
	if len(s.Machine) > 0 {
		if err := json.Unmarshal(s.Machine, &n); err != nil {
			return s, nil, err
		}
	}
	var acts []outreach.Action
	ask := func() {
		if s.Attempts == nil {
			s.Attempts = map[string]int{}
		}
		s.Attempts["q"]++
		key := outreach.SendKey{Conversation: conv.ID, Step: "q", Attempt: s.Attempts["q"]}
		s.Waiting, s.Wait, s.Timeout, s.Deadline, s.Step = true, key, outreach.Duration(5*time.Minute), time.Time{}, "q"
		acts = append(acts, outreach.Send{Key: key, Body: fmt.Sprintf("Anything, %s?", conv.From)}, outreach.ScheduleTimeout{Key: key, After: 5 * time.Minute})
	}
	switch ev.Type {
	case outreach.EventStart:
		s.Started = true
		ask()
	case outreach.EventReplied:
		m.mu.Lock()
		m.seen = append(m.seen, ev.Body)
		m.mu.Unlock()
		n.N++
		s.Waiting = false
		acts = append(acts, outreach.RecordAnswer{Step: "q", Raw: ev.Body, Answer: ev.Body, At: ev.At})
		if n.N < 2 {
			ask()
		} else {
			s.Done, s.Outcome = true, "echoed"
			acts = append(acts, outreach.Finish{Outcome: "echoed"})
		}
	case outreach.EventTimedOut, outreach.EventOptedOut, outreach.EventDeliveryFailure:
		s.Done, s.Waiting, s.Outcome = true, false, string(ev.Type)
		acts = append(acts, outreach.Finish{Outcome: s.Outcome})
	}
	b, _ := json.Marshal(n)
	s.Machine = b
	return s, acts, nil
}

// TestRunnerMachine runs a flow with a Source through the Machine of its
// format: the runner sends what the machine says, at most once, delivers
// replies (HELP included: a machine's flow gets every text) and keeps
// the machine's state; without the machine, the engine runs the steps.
func TestRunnerMachine(t *testing.T) {
	m := &echoMachine{}
	flow := loopFlow()
	flow.Source = &outreach.Source{Format: "echo", Data: json.RawMessage(`{}`)}

	r := newRig(t, noon, outreach.RunnerOptions{NoThrottle: true, Machines: map[string]outreach.Machine{"echo": m}})
	rec := r.phone("+14406443709", ana, simphone.Persona{Responder: simphone.Scripted("HELP", "fine")})
	c := r.campaign(flow, rec)
	r.run(c)
	r.assertOnce()
	if got := r.outcomes(c)["p1"]; got != "echoed" {
		t.Errorf("outcome %q, want echoed", got)
	}
	if fmt.Sprint(m.seen) != "[HELP fine]" {
		t.Errorf("machine saw %q", m.seen)
	}
	in := r.net.Phone(rec.Phone).Inbox()
	if len(in) != 2 || in[0].Body != "Anything, "+sender+"?" {
		t.Errorf("inbox %+v", in)
	}
	convs, _ := r.store.Conversations(r.ctx, c.ID, 0, 10)
	if len(convs) != 1 || string(convs[0].State.Machine) != `{"N":2}` {
		t.Errorf("stored state %+v", convs)
	}
	resp, _ := r.store.Responses(r.ctx, c.ID, outreach.ResponsePage{})
	if len(resp) != 2 || resp[0].Raw != "HELP" || resp[1].Answer != "fine" {
		t.Errorf("responses %+v", resp)
	}

	// No machine for the format: the engine runs the flow's steps, and
	// HELP is no answer (the question times out).
	r2 := newRig(t, noon, outreach.RunnerOptions{NoThrottle: true, Machines: map[string]outreach.Machine{"other": m}})
	rec2 := r2.phone("+14406443709", ana, simphone.Persona{Responder: simphone.Scripted("HELP")})
	c2 := r2.campaign(flow, rec2)
	r2.run(c2)
	if got := r2.outcomes(c2)["p1"]; got != "gave_up" {
		t.Errorf("engine outcome %q, want gave_up", got)
	}
	if resp, _ := r2.store.Responses(r2.ctx, c2.ID, outreach.ResponsePage{}); len(resp) != 0 {
		t.Errorf("engine responses %+v", resp)
	}
	if len(m.seen) != 2 {
		t.Errorf("the machine ran for another format: %q", m.seen)
	}
}
