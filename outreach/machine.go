package outreach

import "context"

// Machine advances the conversations of flows imported from another
// format ([Flow.Source]) by that format's own rules, in place of
// [Advance]: it is what [RunnerOptions] Machines holds, keyed by format.
//
// Advance applies ev to conv (whose State is the state before it) and
// returns the new state and the actions to carry out, as [Advance] does
// and with the same meaning: the runner records the intent of every
// [Send] before sending it, delivers a timeout event for the awaited
// question (State.Waiting, Wait and Timeout, set as [Advance] sets them),
// a reply only while State.Waiting, and ends the conversation on
// [Finish]. A machine keeps its own state in State.Machine. It must not
// send anything itself; it may call out (a Studio flow's HTTP requests),
// honouring ctx. conv.From is the campaign's sending number.
//
// An error means the flow could not run; the state returned with it must
// be finished (Done, with an outcome and a [Finish] action).
type Machine interface {
	Advance(ctx context.Context, f *Flow, conv Conversation, ev Event) (State, []Action, error)
}

// machine returns the machine that runs f, or nil when [Advance] does.
func (r *Runner) machine(f *Flow) Machine {
	if f == nil || f.Source == nil || r.opts.Machines == nil {
		return nil
	}
	return r.opts.Machines[f.Source.Format]
}
