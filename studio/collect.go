package studio

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sync"
	"time"

	studioapi "github.com/twilio/twilio-go/rest/studio/v2"

	"github.com/patient-outreach/sms/internal/twiliocall"
	"github.com/patient-outreach/sms/outreach"
)

// collected is what an ended execution gives back.
type collected struct {
	responses []outreach.Response
	answers   map[string]string
	optOuts   []optChange
	outcome   string
	// maybeOptOut: the last reply to a question may be an opt-out
	// (outreach.OptOutAmbiguous).
	maybeOptOut bool
	// sent are the messages the execution sent, received its replies:
	// recorded so that progress counts them as it does the embedded
	// runtime's.
	sent, received []outreach.Message
}

type optChange struct {
	stop bool
	at   time.Time
}

// step is an execution step, as collect needs it.
type step struct {
	sid, name, from, to, typ string
	at                       time.Time
}

// StepUnsupported names the last step of an execution that a local
// runner (studiotest.Interpreter) ended at a widget whose type it does
// not run; the step leaves that widget (its Type is the widget's type)
// for "Ended". Studio itself never names a step so.
const StepUnsupported = "unsupported"

// reaskWidget matches the re-ask widgets FromFlow writes: STEP_reaskN.
var reaskWidget = regexp.MustCompile(`^(.+)_reask[0-9]+$`)

// collect reads an ended execution's steps and context and turns its
// replies into the same responses the embedded engine records: one per
// reply to a question (re-asks included), with the normalised answer
// ([outreach.ReadAnswer]; empty, with its doubt, when the reply could not
// be read with confidence) and the
// time of the reply (the step's date); a reply to a widget that is no
// question of the flow is recorded as received ([readReply]). STOP and
// START replies are opt-out changes, not answers; HELP is neither.
func (rt *Runtime) collect(ctx context.Context, c *outreach.Campaign, conv outreach.Conversation) (collected, error) {
	sid := conv.State.Remote.ID
	steps, err := rt.steps(ctx, c.RuntimeRef, sid)
	if err != nil {
		return collected{}, fmt.Errorf("studio: conversation %d: steps of %s: %w", conv.ID, sid, err)
	}
	ec, err := rt.executionContext(ctx, c.RuntimeRef, sid)
	if err != nil {
		return collected{}, fmt.Errorf("studio: conversation %d: %w", conv.ID, err)
	}
	stepOf := widgetSteps(c.Flow)
	asks := make(map[string]*outreach.Step)
	for i := range c.Flow.Steps {
		if st := &c.Flow.Steps[i]; st.Kind == outreach.StepAsk {
			asks[st.ID] = st
		}
	}
	// Replies to a widget visited more than once are read from each
	// step's own context; the execution context keeps the last only.
	// Each visit of a widget ends with one step leaving it.
	visits := make(map[string]int)
	for _, s := range steps {
		visits[s.from]++
	}
	var col collected
	var last step
	entered := make(map[string]time.Time) // when each widget was last entered
	attempts := make(map[string]int)
	for _, s := range steps {
		last = s
		src := ec
		if visits[s.from] > 1 && s.from != "" {
			if _, isMsg := sentMessage(ec, s.from); isMsg || s.name == "incomingMessage" {
				if src, err = rt.stepContext(ctx, c.RuntimeRef, sid, s.sid); err != nil {
					return collected{}, fmt.Errorf("studio: conversation %d: %w", conv.ID, err)
				}
			}
		}
		if m, ok := sentMessage(src, s.from); ok {
			attempts[s.from]++
			m.Key = outreach.SendKey{Conversation: conv.ID, Step: stepOf(s.from), Attempt: attempts[s.from]}
			m.SentAt = entered[s.from]
			col.sent = append(col.sent, m)
		}
		entered[s.to] = s.at
		if s.name != "incomingMessage" {
			continue
		}
		ask := askOf(asks, stepOf, s.from)
		body := inboundBody(src, s.from)
		msgSID, _ := inbound(src, s.from)["MessageSid"].(string)
		col.received = append(col.received, outreach.Message{
			From: conv.Recipient.Phone, To: c.From, Body: body, ProviderID: msgSID, SentAt: s.at,
		})
		switch outreach.ParseKeyword(body) {
		case outreach.KeywordStop:
			col.optOuts = append(col.optOuts, optChange{stop: true, at: s.at})
			continue
		case outreach.KeywordStart:
			col.optOuts = append(col.optOuts, optChange{stop: false, at: s.at})
			continue
		case outreach.KeywordHelp:
			continue
		}
		if ask == nil && s.typ == TypeTrigger {
			continue // a text that started an execution, answering nothing
		}
		question, rd := readReply(ask, stepOf, s.from, body)
		// A possible opt-out to a question: the export's split ended the
		// execution on it (MaybeOptOutPattern) and a person decides.
		col.maybeOptOut = ask != nil && rd.Doubt == outreach.DoubtOptOut
		if rd.OK {
			if col.answers == nil {
				col.answers = make(map[string]string)
			}
			col.answers[question] = rd.Value
		}
		col.responses = append(col.responses, outreach.Response{
			CampaignID: conv.CampaignID, ConversationID: conv.ID, PatientID: conv.Recipient.ID,
			QuestionID: question, Raw: body, Answer: rd.Value, Doubt: rd.Doubt, RepliedAt: s.at,
		})
	}
	col.outcome = outcome(ec, last, col)
	return col, nil
}

// sentMessage is the message that widget sent, found in src (the
// execution's context, or the context of the step that left the widget):
// a send-message widget's own variables, a send-and-wait-for-reply's
// outbound. ok is false when it sent none (not a message widget, or
// refused).
func sentMessage(src map[string]any, widget string) (m outreach.Message, ok bool) {
	w, _ := lookup(src, "widgets", widget).(map[string]any)
	if w == nil {
		w = src // a step's context: the widget's own variables
	}
	if o, ok := w["outbound"].(map[string]any); ok {
		w = o
	}
	sid, _ := w["MessageSid"].(string)
	if sid == "" {
		sid, _ = w["Sid"].(string)
	}
	if sid == "" {
		return m, false
	}
	m.ProviderID = sid
	m.Body, _ = w["Body"].(string)
	m.DeliveryStatus, _ = w["Status"].(string)
	m.Status = outreach.MessageSent
	return m, true
}

// outcome is what ended the execution at a widget type the runner does
// not run, else the flow's outcome variable, else what ended the
// execution.
func outcome(ec map[string]any, last step, col collected) string {
	if last.name == StepUnsupported {
		return outreach.UnsupportedOutcome(last.typ)
	}
	if v, ok := lookup(ec, "flow", "variables", "outcome").(string); ok && v != "" {
		return v
	}
	if n := len(col.optOuts); n > 0 && col.optOuts[n-1].stop {
		return outreach.OutcomeOptedOut
	}
	if col.maybeOptOut && last.name == EventMatch {
		// Ended by the split's transition for possible opt-outs: a
		// person decides, as the engine has it.
		return outreach.OutcomeNeedsReview
	}
	switch last.name {
	case "timeout":
		return outreach.OutcomeTimeout
	case "deliveryFailure", "failed":
		return outreach.OutcomeDeliveryFailed
	case "noMatch":
		return outreach.OutcomeNeedsReview
	}
	return outreach.OutcomeCompleted
}

// readReply reads body, a reply to widget, as an answer: to the ask step
// the widget stands for (ask), as [outreach.ReadAnswer] reads it; to a
// widget that is no ask step of the flow (one its import left out, which
// Studio and a [Machine] run but the engine does not), as received, under
// the widget's step id, so that no reply is lost.
func readReply(ask *outreach.Step, stepOf func(string) string, widget, body string) (question string, rd outreach.Reading) {
	if ask != nil {
		if outreach.ClassifyOptOut(body) == outreach.OptOutAmbiguous {
			// Maybe an opt-out: in doubt, as the engine records it.
			return ask.ID, outreach.Reading{Doubt: outreach.DoubtOptOut}
		}
		return ask.ID, outreach.ReadAnswer(ask.Answer, body)
	}
	return stepOf(widget), outreach.Reading{Value: body, OK: true}
}

// askOf returns the ask step that widget asks (STEP or STEP_reaskN);
// stepOf maps widget names to step ids ([widgetSteps]).
func askOf(asks map[string]*outreach.Step, stepOf func(string) string, widget string) *outreach.Step {
	if st, ok := asks[stepOf(widget)]; ok {
		return st
	}
	if m := reaskWidget.FindStringSubmatch(widget); m != nil {
		return asks[stepOf(m[1])]
	}
	return nil
}

// widgetSteps returns the function that maps a widget name of f's Studio
// definition to the id of the step it stands for: by [StepIDs] of the
// definition f was imported from (its Source), which names the widgets
// FromFlow deploys; else, or for a widget the source does not have, the
// name itself.
func widgetSteps(f *outreach.Flow) func(widget string) string {
	var ids map[string]string
	if f != nil && f.Source != nil && f.Source.Format == SourceFormat {
		ids = sourceIDs(f.Source.Data)
	}
	return func(widget string) string {
		if id, ok := ids[widget]; ok {
			return id
		}
		return widget
	}
}

// stepIDCache holds StepIDs of the source definitions of the flows whose
// executions were collected lately: every execution of a campaign needs
// the same mapping, and decoding the definition each time costs more
// than looking it up.
var stepIDCache struct {
	sync.Mutex
	m map[string]map[string]string
}

// sourceIDs returns StepIDs of the definition data, or nil if it does not
// decode. The maps it returns are shared: read them only.
func sourceIDs(data []byte) map[string]string {
	stepIDCache.Lock()
	defer stepIDCache.Unlock()
	if ids, ok := stepIDCache.m[string(data)]; ok {
		return ids
	}
	d, err := Decode(data)
	if err != nil {
		return nil
	}
	if stepIDCache.m == nil || len(stepIDCache.m) >= 32 {
		stepIDCache.m = map[string]map[string]string{}
	}
	ids := StepIDs(d)
	stepIDCache.m[string(data)] = ids
	return ids
}

// inbound finds the reply to widget in a context: an execution's
// (widgets.W.inbound) or a step's (the widget's own variables, or the
// same path).
func inbound(ctx map[string]any, widget string) map[string]any {
	for _, path := range [][]string{
		{"widgets", widget, "inbound"},
		{"inbound"},
		{widget, "inbound"},
	} {
		if m, ok := lookup(ctx, path...).(map[string]any); ok {
			return m
		}
	}
	return nil
}

// inboundBody is the Body of the reply to widget in a context.
func inboundBody(ctx map[string]any, widget string) string {
	s, _ := inbound(ctx, widget)["Body"].(string)
	return s
}

// steps lists an execution's steps, oldest first.
func (rt *Runtime) steps(ctx context.Context, flowSID, sid string) ([]step, error) {
	var out []step
	err := rt.dep.c.studio(ctx, func(s *studioapi.ApiService) error {
		p := &studioapi.ListExecutionStepParams{}
		p.SetPageSize(1000)
		complete, err := twiliocall.Pages(100, func(token, page string) (string, error) {
			resp, err := s.PageExecutionStep(flowSID, sid, p, token, page)
			if err != nil {
				return "", err
			}
			for _, st := range resp.Steps {
				x := step{sid: deref(st.Sid), name: deref(st.Name), from: deref(st.TransitionedFrom), to: deref(st.TransitionedTo), typ: deref(st.Type)}
				if st.DateCreated != nil {
					x.at = *st.DateCreated
				}
				out = append(out, x)
			}
			return deref(resp.Meta.NextPageUrl), nil
		})
		if err == nil && !complete {
			err = fmt.Errorf("more than %d steps", 100*1000)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	// Oldest first. Whichever order the listing uses, steps of one instant
	// keep it (reversed if it lists newest first).
	if len(out) > 1 && out[0].at.After(out[len(out)-1].at) {
		slices.Reverse(out)
	}
	slices.SortStableFunc(out, func(a, b step) int { return a.at.Compare(b.at) })
	return out, nil
}

func (rt *Runtime) stepContext(ctx context.Context, flowSID, sid, stepSID string) (map[string]any, error) {
	var sc map[string]any
	err := rt.dep.c.studio(ctx, func(s *studioapi.ApiService) error {
		resp, err := s.FetchExecutionStepContext(flowSID, sid, stepSID)
		if err != nil {
			return err
		}
		if resp.Context != nil {
			sc, _ = (*resp.Context).(map[string]any)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("step %s context: %w", stepSID, err)
	}
	return sc, nil
}
