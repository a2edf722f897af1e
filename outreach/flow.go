package outreach

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Flow is a conversation script: steps, each of which sends, asks, branches
// or ends. Flows are data (JSON); see package flows for the built-in ones.
type Flow struct {
	// ID names the flow ("provider", "payor", ...).
	ID          string `json:"id"`
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	// Start is the id of the first step; empty means the first in Steps.
	Start string `json:"start,omitempty"`
	Steps []Step `json:"steps"`

	// OptOutFooter is appended to the first message of every conversation
	// of a two-way flow (one with an ask step), unless that message already
	// mentions STOP: see [Flow.WithOptOut]. Empty means
	// DefaultOptOutFooter. It is plain text (no template variables) and
	// must mention STOP.
	OptOutFooter string `json:"opt_out_footer,omitempty"`
	// NoOptOutFooter turns the opt-out footer off, for flows whose
	// recipients were told how to opt out some other way.
	NoOptOutFooter bool `json:"no_opt_out_footer,omitempty"`
	// Trigger, when set, lets patients start the flow by texting the
	// sending number of a running campaign of it (see [Trigger]).
	Trigger *Trigger `json:"trigger,omitempty"`

	// Source is the document the flow was imported from, if any, kept so
	// that exporting the flow again to that format gives back everything
	// the steps do not hold (layout, names, flags, unknown properties, the
	// parts the flow does not represent). The engine and [Flow.Validate]
	// ignore it.
	Source *Source `json:"source,omitempty"`
}

// Source is a document a flow was imported from, in a format that some
// package other than outreach reads and writes (e.g. package studio's
// "twilio-studio"). Data is the document itself.
type Source struct {
	// Format names the format, e.g. "twilio-studio".
	Format string `json:"format"`
	// Data is the document, as JSON.
	Data json.RawMessage `json:"data"`
	// Waits is true when the document waits for replies even where the
	// flow's steps do not (a part the import could not represent as
	// steps waits): a [Machine] that runs the document needs the
	// conversation to be two-way (see [Flow.TwoWay]).
	Waits bool `json:"waits,omitempty"`
}

// DefaultOptOutFooter is the opt-out footer of a flow that sets none.
const DefaultOptOutFooter = " Reply STOP to opt out."

// Footer returns the text appended to the first message of a
// conversation: empty for a one-way flow or a flow with NoOptOutFooter,
// else OptOutFooter or DefaultOptOutFooter.
func (f *Flow) Footer() string {
	if f.NoOptOutFooter || !f.asks() {
		return ""
	}
	if f.OptOutFooter != "" {
		return f.OptOutFooter
	}
	return DefaultOptOutFooter
}

// WithOptOut returns body, the first message of a conversation, with the
// flow's [Flow.Footer] appended, unless the footer is off or body already
// mentions STOP ([MentionsStop]).
func (f *Flow) WithOptOut(body string) string {
	footer := f.Footer()
	if footer == "" || MentionsStop(body) {
		return body
	}
	return body + footer
}

// MentionsStop reports whether s holds the word STOP, in any case: "Reply
// STOP to opt out" does, "unstoppable" does not.
func MentionsStop(s string) bool {
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if strings.EqualFold(w, "stop") {
			return true
		}
	}
	return false
}

// FirstSteps returns the steps that may send the first message of a
// conversation: those with a message reached from the start through
// branch steps only, in the order of Steps. It ignores targets that name
// no step.
func (f *Flow) FirstSteps() []string {
	seen := map[string]bool{}
	first := map[string]bool{}
	var walk func(id string)
	walk = func(id string) {
		if id == "" || seen[id] {
			return
		}
		seen[id] = true
		st := f.StepByID(id)
		if st == nil {
			return
		}
		switch {
		case st.Kind == StepBranch:
			for _, n := range answeredEdges(st) {
				walk(n)
			}
		case st.Kind == StepSend || st.Kind == StepAsk || st.Kind == StepEnd && st.Body != "":
			first[id] = true
		}
	}
	walk(f.StartStep())
	var out []string
	for i := range f.Steps {
		if id := f.Steps[i].ID; first[id] {
			out = append(out, id)
			delete(first, id) // once, should ids repeat
		}
	}
	return out
}

// StepKind says what a step does.
type StepKind string

// Step kinds.
const (
	// StepSend sends Body (one-way) and goes on to Next; no Next ends the
	// conversation with outcome "completed".
	StepSend StepKind = "send"
	// StepAsk sends Body and waits for a reply, read against Answer by
	// [ReadAnswer]. A reply read with confidence is recorded and routed by
	// Routes (else Next); a reply in doubt is re-asked with Hint up to
	// MaxReasks times, then marks the conversation for review
	// ([State.Review]) and goes to NoAnswer; no reply within Timeout goes
	// to OnTimeout.
	StepAsk StepKind = "ask"
	// StepBranch routes on a variable (Var) without sending anything.
	StepBranch StepKind = "branch"
	// StepEnd optionally sends Body, then ends with Outcome.
	StepEnd StepKind = "end"
)

// Step is one node of a flow.
type Step struct {
	ID   string   `json:"id"`
	Kind StepKind `json:"kind"`
	// Body is a message template (send, ask, end): see [Template].
	Body string `json:"body,omitempty"`
	// Next is the default next step (send, ask, branch).
	Next string `json:"next,omitempty"`

	// Answer says what a valid reply is (ask).
	Answer *AnswerSpec `json:"answer,omitempty"`
	// Routes are tried in order on the answer (ask) or on Var (branch);
	// the first that matches picks the next step.
	Routes []Route `json:"routes,omitempty"`
	// Var is the variable a branch step routes on, e.g. "answers.age".
	Var string `json:"var,omitempty"`
	// Hint is sent before the question when a reply did not match (ask).
	// Empty means a hint derived from Answer.
	Hint string `json:"hint,omitempty"`
	// MaxReasks is how many times a reply in doubt is re-asked (ask);
	// nil means 1.
	MaxReasks *int `json:"max_reasks,omitempty"`
	// NoAnswer is where to go after the re-asks run out (ask), with the
	// conversation marked for review; empty ends with outcome
	// "needs_review".
	NoAnswer string `json:"no_answer,omitempty"`
	// Timeout is how long to wait for a reply (ask); zero means 6 minutes
	// for the conversation's first question and 60 minutes after.
	Timeout Duration `json:"timeout,omitempty"`
	// OnTimeout is where to go when no reply came in time (ask); empty ends
	// with outcome "timeout".
	OnTimeout string `json:"on_timeout,omitempty"`
	// OnFailure is where to go when the question could not be delivered
	// (ask); empty ends with "delivery_failed". A send step's message that
	// cannot be delivered ends the conversation. A failure reported after
	// the conversation ended changes nothing but the message's delivery
	// status.
	OnFailure string `json:"on_failure,omitempty"`

	// Outcome is the conversation's outcome (end), e.g. "eligible".
	Outcome string `json:"outcome,omitempty"`
}

// Default timeouts of an ask step with no Timeout of its own.
const (
	DefaultFirstTimeout = 6 * time.Minute
	DefaultLaterTimeout = 60 * time.Minute
	DefaultMaxReasks    = 1
	// MaxBodyLen is the longest message body a flow may hold (Twilio's limit).
	MaxBodyLen = 1600
)

// Reasks returns MaxReasks or its default.
func (s *Step) Reasks() int {
	if s.MaxReasks == nil {
		return DefaultMaxReasks
	}
	return *s.MaxReasks
}

// AnswerKind says how a reply is read.
type AnswerKind string

// Answer kinds.
const (
	// AnswerChoice: one of Choices, by value or synonym, in any case.
	AnswerChoice AnswerKind = "choice"
	// AnswerInteger: a whole number within [Min, Max] when they are set.
	AnswerInteger AnswerKind = "integer"
	// AnswerNumber: a decimal number within [Min, Max] when they are set.
	AnswerNumber AnswerKind = "number"
	// AnswerText: any non-empty text.
	AnswerText AnswerKind = "text"
)

// AnswerSpec says what a valid reply to an ask step is.
type AnswerSpec struct {
	Kind    AnswerKind `json:"kind"`
	Choices []Choice   `json:"choices,omitempty"`
	Min     *float64   `json:"min,omitempty"`
	Max     *float64   `json:"max,omitempty"`
}

// Choice is one accepted answer with its synonyms: a reply equal to Value
// or to any synonym (ignoring case, spaces and punctuation) is recorded as
// Value.
type Choice struct {
	Value    string   `json:"value"`
	Synonyms []string `json:"synonyms,omitempty"`
}

// Route sends the conversation to Next when its condition holds.
type Route struct {
	When Condition `json:"when"`
	Next string    `json:"next"`
}

// Condition tests a value (an answer or a variable). Set exactly one of
// Equals, AnyOf, or Min/Max (a number within the inclusive bounds).
type Condition struct {
	Equals string   `json:"equals,omitempty"`
	AnyOf  []string `json:"any_of,omitempty"`
	Min    *float64 `json:"min,omitempty"`
	Max    *float64 `json:"max,omitempty"`
}

// Duration is a time.Duration written in JSON as a string such as "6m".
type Duration time.Duration

// MarshalJSON writes d as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a Go duration string ("90s", "6m", "1h30m").
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil // as encoding/json does for other types
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"6m\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

// StepByID returns the step with the given id, or nil.
func (f *Flow) StepByID(id string) *Step {
	for i := range f.Steps {
		if f.Steps[i].ID == id {
			return &f.Steps[i]
		}
	}
	return nil
}

// StartStep returns the id of the first step.
func (f *Flow) StartStep() string {
	if f.Start != "" {
		return f.Start
	}
	if len(f.Steps) > 0 {
		return f.Steps[0].ID
	}
	return ""
}

// TwoWay reports whether the flow waits for replies: it has an ask step,
// or its Source waits.
func (f *Flow) TwoWay() bool {
	return f.asks() || f.Source != nil && f.Source.Waits
}

// asks reports whether the flow has an ask step.
func (f *Flow) asks() bool {
	for i := range f.Steps {
		if f.Steps[i].Kind == StepAsk {
			return true
		}
	}
	return false
}

// Clone returns a deep copy of f, for snapshots.
func (f *Flow) Clone() *Flow {
	b, err := json.Marshal(f)
	if err != nil {
		panic(err) // a Flow always marshals
	}
	var c Flow
	if err := json.Unmarshal(b, &c); err != nil {
		panic(err)
	}
	return &c
}
