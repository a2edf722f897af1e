package studio

import (
	"fmt"
	"strings"

	"github.com/patient-outreach/sms/outreach"
)

// Severity says whether a [Problem] stops a flow from running.
type Severity int

// Severities of import problems.
const (
	// Warning: the flow imports and runs; the problem says what the
	// embedded runtime does differently from Studio, or what the flow
	// leaves out.
	Warning Severity = iota + 1
	// Error: the definition cannot be imported as a flow that runs.
	Error
)

// String returns "warning" or "error".
func (s Severity) String() string {
	switch s {
	case Warning:
		return "warning"
	case Error:
		return "error"
	}
	return fmt.Sprintf("Severity(%d)", int(s))
}

// Problem is one thing [Import] found in a definition. Widget and Type
// name the widget at fault; both are empty for the definition as a whole.
type Problem struct {
	Severity Severity
	Widget   string // widget name, as in the definition
	Type     string // widget type
	Message  string
}

// String returns the problem on one line, e.g.
// `warning: widget "http_1" (make-http-request): ...`.
func (p Problem) String() string {
	if p.Widget == "" && p.Type == "" {
		return fmt.Sprintf("%s: %s", p.Severity, p.Message)
	}
	return fmt.Sprintf("%s: widget %q (%s): %s", p.Severity, p.Widget, p.Type, p.Message)
}

// ImportError is the error [Import] and [ToFlow] return when a definition
// has problems of severity Error. Problems lists every problem found,
// warnings included.
type ImportError struct {
	Problems []Problem
}

// Errors returns the problems of severity Error.
func (e *ImportError) Errors() []Problem {
	var out []Problem
	for _, p := range e.Problems {
		if p.Severity == Error {
			out = append(out, p)
		}
	}
	return out
}

// Error lists the problems of severity Error, each with its widget.
func (e *ImportError) Error() string {
	errs := e.Errors()
	parts := make([]string, len(errs))
	for i, p := range errs {
		if p.Widget == "" && p.Type == "" {
			parts[i] = p.Message
		} else {
			parts[i] = fmt.Sprintf("widget %q (%s): %s", p.Widget, p.Type, p.Message)
		}
	}
	return "studio: cannot import the definition: " + strings.Join(parts, "; ")
}

// Unwrap returns a *[StateError] for each error that names a widget, so
// that [errors.As] finds the first one.
func (e *ImportError) Unwrap() []error {
	var out []error
	for _, p := range e.Errors() {
		if p.Widget != "" || p.Type != "" {
			out = append(out, &StateError{State: p.Widget, Type: p.Type, Err: fmt.Errorf("%s", p.Message)})
		}
	}
	return out
}

// Outcomes of the end steps that stand for what the embedded engine
// cannot run (see the package documentation, Import).
const (
	// UnsupportedPrefix starts the outcome of such an end step:
	// "unsupported: send-to-flex", "unsupported: template".
	UnsupportedPrefix = "unsupported: "
	// UnsupportedTemplate is the outcome of a message or split widget
	// whose Liquid the engine cannot render.
	UnsupportedTemplate = UnsupportedPrefix + "template"
	// UnsupportedCondition is the outcome of a split widget with a
	// condition outreach routes cannot express.
	UnsupportedCondition = UnsupportedPrefix + "condition"
)

// Unsupported reports whether st is an end step that stands for a widget
// the embedded engine cannot run, as [Import] writes it.
func Unsupported(st *outreach.Step) bool {
	return st.Kind == outreach.StepEnd && strings.HasPrefix(st.Outcome, UnsupportedPrefix)
}

// SourceFormat is the [outreach.Source] Format of flows imported from a
// Studio definition.
const SourceFormat = "twilio-studio"

// StepIDs maps every widget name of d to the id of the step it becomes
// (or would become) in an imported flow: the name itself when it has only
// letters, digits and '_', else the name with every other character
// replaced by '_', made unique by a suffix "_2", "_3", ... Names are
// taken in the order of the widgets, names that need no change first, so
// the mapping is the same every time. Everything that maps widget names
// to steps (ToFlow, FromFlow and answer collection) uses it.
func StepIDs(d *Definition) map[string]string {
	ids := make(map[string]string, len(d.States))
	taken := map[string]bool{}
	for _, s := range d.States {
		if plainName(s.Name) && !taken[s.Name] {
			ids[s.Name] = s.Name
			taken[s.Name] = true
		}
	}
	for _, s := range d.States {
		if _, ok := ids[s.Name]; ok || s.Name == "" {
			continue
		}
		base := strings.Map(func(r rune) rune {
			if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
				return r
			}
			return '_'
		}, s.Name)
		id := base
		for n := 2; taken[id]; n++ {
			id = fmt.Sprintf("%s_%d", base, n)
		}
		ids[s.Name] = id
		taken[id] = true
	}
	return ids
}
