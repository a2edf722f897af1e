package outreach

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// SendKey identifies one outbound message for the life of a conversation:
// a re-ask or a second visit to a step is a new attempt, never a repeat.
type SendKey struct {
	Conversation int64  `json:"conversation"`
	Step         string `json:"step"`
	Attempt      int    `json:"attempt"`
}

// String formats k as "conversation/step/attempt".
func (k SendKey) String() string {
	return strconv.FormatInt(k.Conversation, 10) + "/" + k.Step + "/" + strconv.Itoa(k.Attempt)
}

// IsZero reports whether k is the zero key.
func (k SendKey) IsZero() bool { return k == SendKey{} }

// State is the flow engine's state for one conversation. It is plain data,
// stored as JSON by the stores.
type State struct {
	// Step is the ask step being waited on, or the step where it ended.
	Step string `json:"step,omitempty"`
	// Started is true once the start event was applied.
	Started bool `json:"started,omitempty"`
	// Waiting is true while a reply to Step is awaited.
	Waiting bool `json:"waiting,omitempty"`
	// Wait is the key of the question awaited (its latest attempt).
	Wait SendKey `json:"wait"`
	// Timeout is how long the current wait lasts once its question is sent.
	Timeout Duration `json:"timeout,omitempty"`
	// Deadline is when the current wait times out. The engine clears it when
	// it starts a wait; the runner sets it once the question is sent.
	Deadline time.Time `json:"deadline"`
	// Reasks counts re-asks in the current visit to Step.
	Reasks int `json:"reasks,omitempty"`
	// Asked counts questions asked so far (visits to ask steps).
	Asked int `json:"asked,omitempty"`
	// Attempts counts messages sent per step over the whole conversation.
	Attempts map[string]int `json:"attempts,omitempty"`
	// Answers holds normalised answers by ask step id.
	Answers map[string]string `json:"answers,omitempty"`
	// Review is set when a reply could not be read with confidence after
	// the re-asks: a person must read it.
	Review *Review `json:"review,omitempty"`
	// Done is true when the conversation has ended, with Outcome.
	Done    bool   `json:"done,omitempty"`
	Outcome string `json:"outcome,omitempty"`
	// Remote is set when a runtime other than the embedded engine runs the
	// conversation, such as a Twilio Studio execution.
	Remote *RemoteRun `json:"remote,omitempty"`
	// Machine is the state of the [Machine] that runs the conversation's
	// flow, when one does (see RunnerOptions.Machines): opaque to the
	// runner and the stores, which keep it as JSON.
	Machine json.RawMessage `json:"machine,omitempty"`
	// Trigger is the text that started the conversation, when a patient
	// started it (see [Trigger]); its Body is kept only until the start.
	Trigger *TriggerMessage `json:"trigger,omitempty"`
}

// Review marks a conversation whose reply a person must read: the flow
// could not read it with confidence (see [ReadAnswer]).
type Review struct {
	// Step is the ask step the reply answered.
	Step string `json:"step"`
	// Doubt says why the reply was not read.
	Doubt Doubt `json:"doubt"`
	// At is when the reply came.
	At time.Time `json:"at"`
}

// RemoteRun is a conversation run outside the engine, by another runtime.
type RemoteRun struct {
	// ID is the remote run's id (a Studio execution SID); empty while its
	// creation is intended but not known to have happened.
	ID string `json:"id,omitempty"`
	// IntentAt is when the intent to create the run was recorded.
	IntentAt time.Time `json:"intent_at"`
	// Ended is true once the remote run ended and its answers were
	// collected.
	Ended bool `json:"ended,omitempty"`
}

// EventType says what happened to a conversation.
type EventType string

// Engine events.
const (
	EventStart           EventType = "start"
	EventReplied         EventType = "reply"
	EventTimedOut        EventType = "timeout"
	EventDeliveryFailure EventType = "delivery_failed"
	EventOptedOut        EventType = "opted_out"
)

// Event is the input of [Advance].
type Event struct {
	Type EventType `json:"type"`
	// Body is the reply text (reply), or the text with which the patient
	// started the conversation (start; see [Trigger]).
	Body string `json:"body,omitempty"`
	// At is when the event happened (the reply's receipt time); the engine
	// has no clock of its own.
	At time.Time `json:"at"`
	// Key is the awaited question (timeout) or the failed message
	// (delivery failure); an event for a stale key changes nothing.
	Key SendKey `json:"key"`
}

// Action is an output of [Advance]: one of [Send], [ScheduleTimeout],
// [RecordAnswer] or [Finish].
type Action interface{ isAction() }

// Send asks the runner to send Body under Key.
type Send struct {
	Key  SendKey
	Body string
}

// ScheduleTimeout asks the runner to deliver a timeout event for Key once
// After has passed since the question was sent.
type ScheduleTimeout struct {
	Key   SendKey
	After time.Duration
}

// RecordAnswer asks the runner to record a reply to Step.
type RecordAnswer struct {
	Step string
	// Raw is the reply as written; Answer is the normalised answer, empty
	// when the reply could not be read with confidence.
	Raw, Answer string
	// Doubt says why the reply was not read (empty when it was).
	Doubt Doubt
	At    time.Time
}

// Finish ends the conversation with Outcome.
type Finish struct {
	Outcome string
}

func (Send) isAction()            {}
func (ScheduleTimeout) isAction() {}
func (RecordAnswer) isAction()    {}
func (Finish) isAction()          {}

// maxHops bounds the steps run for one event; Validate rejects loops with
// no wait, so only an unvalidated flow can reach it.
const maxHops = 1000

// Advance applies ev to a conversation in state s and returns the new state
// and the actions to carry out. It does no I/O and reads no clock: the same
// inputs always give the same outputs. conv is the conversation id used in
// send keys; r fills message templates.
//
// The first message of a conversation gets the flow's opt-out footer
// ([Flow.WithOptOut]): a two-way flow tells the recipient how to opt out
// before it asks anything.
//
// The error is non-nil only for a flow that fails [Flow.Validate]; the
// state returned with it is then finished with outcome "failed".
func Advance(f *Flow, conv int64, r Recipient, s State, ev Event) (State, []Action, error) {
	e := &engine{f: f, conv: conv, r: r, s: s.Clone()}
	err := e.apply(ev)
	if err != nil {
		e.finish(OutcomeFailed)
	}
	return e.s, e.acts, err
}

type engine struct {
	f    *Flow
	conv int64
	r    Recipient
	s    State
	acts []Action
}

// Clone returns a copy of s whose maps are its own, for a step that
// changes the copy and keeps s as it was.
func (s State) Clone() State {
	c := s
	c.Attempts = make(map[string]int, len(s.Attempts)+1)
	for k, v := range s.Attempts {
		c.Attempts[k] = v
	}
	c.Answers = make(map[string]string, len(s.Answers)+1)
	for k, v := range s.Answers {
		c.Answers[k] = v
	}
	if s.Trigger != nil {
		t := *s.Trigger
		c.Trigger = &t
	}
	return c
}

func (e *engine) apply(ev Event) error {
	if e.s.Done {
		return nil
	}
	switch ev.Type {
	case EventStart:
		if e.s.Started {
			return nil
		}
		e.s.Started = true
		return e.run(e.f.StartStep())
	case EventOptedOut:
		e.finish(OutcomeOptedOut)
		return nil
	case EventDeliveryFailure:
		// Only the failure of the question awaited changes the path: a
		// late report on an earlier message, or on a key never sent,
		// changes nothing.
		if !e.s.Waiting || ev.Key != e.s.Wait {
			return nil
		}
		st := e.f.StepByID(ev.Key.Step)
		if st == nil || st.OnFailure == "" {
			e.finish(OutcomeDeliveryFailed)
			return nil
		}
		e.s.Waiting = false
		return e.run(st.OnFailure)
	case EventTimedOut:
		if !e.s.Waiting || ev.Key != e.s.Wait {
			return nil
		}
		st, err := e.step(e.s.Step)
		if err != nil {
			return err
		}
		e.s.Waiting = false
		if st.OnTimeout == "" {
			e.finish(OutcomeTimeout)
			return nil
		}
		return e.run(st.OnTimeout)
	case EventReplied:
		if !e.s.Waiting {
			return nil
		}
		return e.reply(ev)
	}
	return fmt.Errorf("outreach: unknown event type %q", ev.Type)
}

func (e *engine) reply(ev Event) error {
	st, err := e.step(e.s.Step)
	if err != nil {
		return err
	}
	if ClassifyOptOut(ev.Body) == OptOutAmbiguous {
		// The patient may be revoking consent ("stop the texts or the
		// meds?"): nothing more is sent, and a person decides.
		e.act(RecordAnswer{Step: st.ID, Raw: ev.Body, Doubt: DoubtOptOut, At: ev.At})
		e.s.Waiting = false
		e.s.Review = &Review{Step: st.ID, Doubt: DoubtOptOut, At: ev.At}
		e.finish(OutcomeNeedsReview)
		return nil
	}
	rd := ReadAnswer(st.Answer, ev.Body)
	if kw := parseOptInHelp(ev.Body); kw == KeywordHelp || kw == KeywordStart {
		// HELP or START while a question waits: the keyword got its
		// reply, and the question is asked again as for a reply in
		// doubt (a Studio execution, to which Twilio passes keywords
		// on, does so); it is no answer, and none is recorded.
		rd = Reading{Doubt: DoubtNoChoice}
	} else {
		e.act(RecordAnswer{Step: st.ID, Raw: ev.Body, Answer: rd.Value, Doubt: rd.Doubt, At: ev.At})
	}
	if !rd.OK {
		if e.s.Reasks < st.Reasks() {
			e.s.Reasks++
			return e.ask(st, true)
		}
		// Still in doubt after the re-asks: a person reads it, and the
		// flow goes where its author said, never down an answer's branch.
		e.s.Waiting = false
		e.s.Review = &Review{Step: st.ID, Doubt: rd.Doubt, At: ev.At}
		if st.NoAnswer == "" {
			e.finish(OutcomeNeedsReview)
			return nil
		}
		return e.run(st.NoAnswer)
	}
	e.s.Answers[st.ID] = rd.Value
	e.s.Waiting = false
	return e.run(route(st.Routes, rd.Value, st.Next))
}

// run executes steps from id until one waits or the conversation ends.
func (e *engine) run(id string) error {
	for hops := 0; ; hops++ {
		if hops >= maxHops {
			return fmt.Errorf("outreach: flow %q loops through step %q with no wait", e.f.ID, id)
		}
		if id == "" {
			e.finish(OutcomeCompleted)
			return nil
		}
		st, err := e.step(id)
		if err != nil {
			return err
		}
		switch st.Kind {
		case StepSend:
			if err := e.send(st, st.Body); err != nil {
				return err
			}
			id = st.Next
		case StepBranch:
			v, _ := lookupVar(st.Var, e.r, e.s.Answers)
			id = route(st.Routes, v, st.Next)
		case StepEnd:
			if st.Body != "" {
				if err := e.send(st, st.Body); err != nil {
					return err
				}
			}
			e.s.Step = st.ID
			outcome := st.Outcome
			if outcome == "" {
				outcome = OutcomeCompleted
			}
			e.finish(outcome)
			return nil
		case StepAsk:
			e.s.Step = st.ID
			e.s.Reasks = 0
			return e.ask(st, false)
		default:
			return fmt.Errorf("outreach: flow %q step %q: unknown kind %q", e.f.ID, st.ID, st.Kind)
		}
	}
}

func (e *engine) ask(st *Step, reask bool) error {
	body := st.Body
	if reask {
		body = st.Hint
		if body == "" {
			body = DefaultHint(st.Answer)
		}
		body += " " + st.Body
	}
	key, err := e.sendKey(st, body)
	if err != nil {
		return err
	}
	if !reask {
		e.s.Asked++
	}
	timeout := time.Duration(st.Timeout)
	if timeout <= 0 {
		timeout = DefaultLaterTimeout
		if e.s.Asked == 1 {
			timeout = DefaultFirstTimeout // the first question, and its re-asks
		}
	}
	e.s.Waiting = true
	e.s.Wait = key
	e.s.Deadline = time.Time{}
	e.s.Timeout = Duration(timeout)
	e.act(ScheduleTimeout{Key: key, After: timeout})
	return nil
}

func (e *engine) send(st *Step, tmpl string) error {
	_, err := e.sendKey(st, tmpl)
	return err
}

func (e *engine) sendKey(st *Step, tmpl string) (SendKey, error) {
	body, err := Render(tmpl, e.r, e.s.Answers)
	if err != nil {
		return SendKey{}, fmt.Errorf("outreach: flow %q step %q: %w", e.f.ID, st.ID, err)
	}
	if e.firstSend() {
		body = e.f.WithOptOut(body)
	}
	e.s.Attempts[st.ID]++
	key := SendKey{Conversation: e.conv, Step: st.ID, Attempt: e.s.Attempts[st.ID]}
	e.act(Send{Key: key, Body: body})
	return key, nil
}

// firstSend reports whether no message of the conversation was sent yet:
// the next one is the first, which carries the flow's opt-out footer.
func (e *engine) firstSend() bool {
	for _, n := range e.s.Attempts {
		if n > 0 {
			return false
		}
	}
	return true
}

func (e *engine) step(id string) (*Step, error) {
	st := e.f.StepByID(id)
	if st == nil {
		return nil, fmt.Errorf("outreach: flow %q has no step %q", e.f.ID, id)
	}
	return st, nil
}

func (e *engine) finish(outcome string) {
	if e.s.Done {
		return
	}
	e.s.Done = true
	e.s.Waiting = false
	e.s.Outcome = outcome
	e.act(Finish{Outcome: outcome})
}

func (e *engine) act(a Action) { e.acts = append(e.acts, a) }

// route returns the Next of the first route whose condition holds for v,
// else def.
func route(routes []Route, v, def string) string {
	for _, rt := range routes {
		if rt.When.Holds(v) {
			return rt.Next
		}
	}
	return def
}
