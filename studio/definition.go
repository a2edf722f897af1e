package studio

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Widget types this package understands. Any other type (make-http-request,
// run-function, run-subflow, ...) is kept verbatim in a [Definition] but
// cannot be imported into an outreach flow.
const (
	TypeTrigger       = "trigger"
	TypeSendMessage   = "send-message"
	TypeSendAndWait   = "send-and-wait-for-reply"
	TypeSplit         = "split-based-on"
	TypeSetVariables  = "set-variables"
	TriggerName       = "Trigger" // name of the trigger widget FromFlow writes
	OutcomeVariable   = "outcome" // set-variables key that records an end step's outcome
	eventIncomingCall = "incomingCall"
)

// Events of widget transitions, as Studio names them, besides
// [EventMatch] and [EventNoMatch] of split-based-on. An execution step
// is named for the event of the transition it records.
const (
	EventIncomingRequest = "incomingRequest" // trigger: REST API execution
	EventIncomingMessage = "incomingMessage" // trigger: message from the contact; send-and-wait-for-reply: answered
	// EventIncomingConversationMessage starts a flow on a message of a
	// Conversations conversation.
	EventIncomingConversationMessage = "incomingConversationMessage"
	EventSent                        = "sent"            // send-message sent
	EventFailed                      = "failed"          // send-message refused
	EventTimeout                     = "timeout"         // send-and-wait-for-reply not answered in time
	EventDeliveryFailure             = "deliveryFailure" // send-and-wait-for-reply refused
	EventNext                        = "next"            // set-variables done
)

// DefaultReplyTimeout is how long a send-and-wait-for-reply widget with
// no timeout waits for a reply: Studio's default "Stop Gathering After"
// of 3600 seconds.
const DefaultReplyTimeout = 3600 * time.Second

// Definition is a Studio flow definition: the JSON that the Studio v2 API
// takes as a flow's definition and that the console exports.
type Definition struct {
	Description  string  `json:"description"`
	States       []State `json:"states"`
	InitialState string  `json:"initial_state"`
	Flags        Flags   `json:"flags"`
	// Extra holds the top-level members this package does not model, kept
	// so that a decode and encode gives them back.
	Extra map[string]json.RawMessage `json:"-"`
}

// Flags are a definition's flags.
type Flags struct {
	AllowConcurrentCalls bool `json:"allow_concurrent_calls"`
}

// State is one widget. Properties are kept as raw JSON so that widgets of
// any type, and fields this package does not model (offset, service,
// channel, ...), survive a decode and encode unchanged.
type State struct {
	Name        string          `json:"name"`
	Type        string          `json:"type"`
	Transitions []Transition    `json:"transitions"`
	Properties  json.RawMessage `json:"properties,omitempty"`
	// Extra holds the widget's members besides name, type, transitions
	// and properties, kept so that a decode and encode gives them back.
	Extra map[string]json.RawMessage `json:"-"`
}

type definitionJSON Definition

// MarshalJSON writes d with its Extra members after the modelled ones.
func (d Definition) MarshalJSON() ([]byte, error) {
	return marshalExtra(definitionJSON(d), d.Extra)
}

// UnmarshalJSON reads d, keeping members it does not model in Extra.
func (d *Definition) UnmarshalJSON(b []byte) error {
	var v Definition
	extra, err := unmarshalExtra(b, map[string]any{
		"description": &v.Description, "states": &v.States, "initial_state": &v.InitialState, "flags": &v.Flags,
	})
	if err != nil {
		return err
	}
	v.Extra = extra
	*d = v
	return nil
}

type stateJSON State

// MarshalJSON writes s with its Extra members after the modelled ones.
func (s State) MarshalJSON() ([]byte, error) {
	return marshalExtra(stateJSON(s), s.Extra)
}

// UnmarshalJSON reads s, keeping members it does not model in Extra.
func (s *State) UnmarshalJSON(b []byte) error {
	var v State
	extra, err := unmarshalExtra(b, map[string]any{
		"name": &v.Name, "type": &v.Type, "transitions": &v.Transitions, "properties": &v.Properties,
	})
	if err != nil {
		return err
	}
	v.Extra = extra
	*s = v
	return nil
}

// marshalExtra marshals v, a struct, and appends the extra members to the
// object, in key order.
func marshalExtra(v any, extra map[string]json.RawMessage) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil || len(extra) == 0 {
		return b, err
	}
	var buf bytes.Buffer
	buf.Write(b[:len(b)-1]) // without the closing brace
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		key, _ := json.Marshal(k)
		buf.WriteByte(',')
		buf.Write(key)
		buf.WriteByte(':')
		if len(extra[k]) == 0 {
			buf.WriteString("null")
		} else {
			buf.Write(extra[k])
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// unmarshalExtra decodes the JSON object b: each member named in known
// into its pointer, and returns the other members.
func unmarshalExtra(b []byte, known map[string]any) (map[string]json.RawMessage, error) {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, err
	}
	for k, dst := range known {
		raw, ok := all[k]
		if !ok {
			continue
		}
		delete(all, k)
		if err := json.Unmarshal(raw, dst); err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
	}
	if len(all) == 0 {
		return nil, nil
	}
	return all, nil
}

// Transition leaves a widget on Event for the widget named Next; an empty
// Next ends the flow.
type Transition struct {
	Event      string      `json:"event"`
	Next       string      `json:"next,omitempty"`
	Conditions []Condition `json:"conditions,omitempty"`
}

// Condition is a test of a split-based-on transition. All conditions of a
// transition must hold for it to be taken.
type Condition struct {
	FriendlyName string   `json:"friendly_name"`
	Arguments    []string `json:"arguments"`
	Type         string   `json:"type"`
	Value        string   `json:"value"`
}

// Offset is a widget's position on the console canvas.
type Offset struct {
	X int `json:"x"`
	Y int `json:"y"`
}

// MessageProperties are the properties of send-message and
// send-and-wait-for-reply widgets that this package reads and writes.
type MessageProperties struct {
	Offset  *Offset `json:"offset,omitempty"`
	From    string  `json:"from,omitempty"`
	To      string  `json:"to,omitempty"`
	Body    string  `json:"body"`
	Timeout Seconds `json:"timeout,omitempty"` // send-and-wait-for-reply only
}

// SplitProperties are the properties of a split-based-on widget.
type SplitProperties struct {
	Offset *Offset `json:"offset,omitempty"`
	Input  string  `json:"input"`
}

// Variable is one variable of a set-variables widget.
type Variable struct {
	Type  string `json:"type,omitempty"`
	Key   string `json:"key"`
	Value string `json:"value"`
}

// SetVariablesProperties are the properties of a set-variables widget.
type SetVariablesProperties struct {
	Offset    *Offset    `json:"offset,omitempty"`
	Variables []Variable `json:"variables"`
}

// TriggerProperties are the properties of the trigger widget.
type TriggerProperties struct {
	Offset *Offset `json:"offset,omitempty"`
}

// Seconds is a send-and-wait-for-reply timeout in seconds. Studio exports
// write it as a string ("3600"); a JSON number is accepted too.
type Seconds int

// MarshalJSON writes s as a decimal string, as Studio does.
func (s Seconds) MarshalJSON() ([]byte, error) {
	return json.Marshal(strconv.Itoa(int(s)))
}

// UnmarshalJSON reads "3600" or 3600.
func (s *Seconds) UnmarshalJSON(b []byte) error {
	str := strings.Trim(string(bytes.TrimSpace(b)), `"`)
	if str == "" || str == "null" {
		*s = 0
		return nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(str))
	if err != nil || n < 0 {
		return fmt.Errorf("timeout %s: want a whole number of seconds", b)
	}
	*s = Seconds(n)
	return nil
}

// Decode reads a definition from JSON.
func Decode(data []byte) (*Definition, error) {
	var d Definition
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("studio: definition: %w", err)
	}
	return &d, nil
}

// Encode writes d as indented JSON.
func (d *Definition) Encode() ([]byte, error) {
	return json.MarshalIndent(d, "", "  ")
}

// StateByName returns the widget with the given name, or nil.
func (d *Definition) StateByName(name string) *State {
	for i := range d.States {
		if d.States[i].Name == name {
			return &d.States[i]
		}
	}
	return nil
}

// Next returns the target of the first transition on event, and whether
// there is one.
func (s *State) Next(event string) (string, bool) {
	for _, t := range s.Transitions {
		if t.Event == event {
			return t.Next, true
		}
	}
	return "", false
}

// DecodeProperties decodes s.Properties into v.
func (s *State) DecodeProperties(v any) error {
	if len(s.Properties) == 0 {
		return nil
	}
	if err := json.Unmarshal(s.Properties, v); err != nil {
		return &StateError{State: s.Name, Type: s.Type, Err: fmt.Errorf("properties: %w", err)}
	}
	return nil
}

// StateError is a problem with one widget of a definition.
type StateError struct {
	State string // widget name
	Type  string // widget type
	Err   error
}

func (e *StateError) Error() string {
	return fmt.Sprintf("studio: widget %q (%s): %v", e.State, e.Type, e.Err)
}

func (e *StateError) Unwrap() error { return e.Err }

func stateErr(s *State, format string, args ...any) error {
	return &StateError{State: s.Name, Type: s.Type, Err: fmt.Errorf(format, args...)}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // property structs always marshal
	}
	return b
}
