package studio

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/osteele/liquid"
)

// engine renders every Studio template; it is safe for concurrent use.
var engine = liquid.NewEngine()

// Render evaluates a Studio Liquid template with vars as its bindings, e.g.
// {"flow": map[string]any{"data": map[string]any{"patient_first_name": "Ana"}}}.
// Standard filters (upcase, downcase, default, date, strip, truncate, ...)
// work; a missing variable renders as the empty string.
func Render(tmpl string, vars map[string]any) (string, error) {
	out, err := engine.ParseAndRenderString(tmpl, vars)
	if err != nil {
		return "", fmt.Errorf("studio: template: %w", err)
	}
	return out, nil
}

// CheckTemplates parses every Liquid template of the definition's message
// and split widgets and returns a *StateError naming the first widget whose
// template does not parse.
func (d *Definition) CheckTemplates() error {
	for i := range d.States {
		s := &d.States[i]
		var texts []string
		switch s.Type {
		case TypeSendMessage, TypeSendAndWait:
			var p MessageProperties
			if err := s.DecodeProperties(&p); err != nil {
				return err
			}
			texts = []string{p.Body}
		case TypeSplit:
			var p SplitProperties
			if err := s.DecodeProperties(&p); err != nil {
				return err
			}
			texts = []string{p.Input}
		default:
			continue
		}
		for _, t := range texts {
			if _, err := engine.ParseString(t); err != nil {
				return stateErr(s, "template does not parse: %v", err)
			}
		}
	}
	return nil
}

// ErrUnsupportedTemplate matches errors for Liquid that has no outreach
// template equivalent (filters, tags, unknown variables).
var ErrUnsupportedTemplate = errors.New("unsupported template")

var liquidRE = regexp.MustCompile(`\{\{-?\s*(.*?)\s*-?\}\}`)

// fromLiquid turns a Studio Liquid body into an outreach template. Only
// plain variables with an outreach equivalent are accepted: outreach
// templates have no filters or tags. resolve maps a widget name to the
// id of its step (see StepIDs); nil takes names as they are.
func fromLiquid(body string, resolve func(widget string) (string, bool)) (string, error) {
	if strings.Contains(body, "{%") {
		return "", fmt.Errorf("%w: Liquid tags ({%% ... %%}) have no outreach equivalent", ErrUnsupportedTemplate)
	}
	var firstErr error
	out := liquidRE.ReplaceAllStringFunc(body, func(m string) string {
		expr := liquidRE.FindStringSubmatch(m)[1]
		v, err := liquidVar(expr, resolve)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return "{{" + v + "}}"
	})
	if firstErr != nil {
		return "", firstErr
	}
	return out, nil
}

// liquidVar maps one Liquid expression to an outreach variable. resolve
// maps a widget name to the id of its step; nil takes plain names as
// they are.
func liquidVar(expr string, resolve func(widget string) (string, bool)) (string, error) {
	if strings.Contains(expr, "|") {
		return "", fmt.Errorf("%w: {{%s}} uses a Liquid filter; outreach templates take plain variables only", ErrUnsupportedTemplate, expr)
	}
	switch expr {
	case "flow.data.patient_id":
		return "recipient.id", nil
	case "flow.data.patient_first_name":
		return "recipient.first_name", nil
	case "flow.data.patient_phone", "contact.channel.address":
		return "recipient.phone", nil
	case "flow.channel.address":
		return "", fmt.Errorf("%w: {{%s}} (the sending number) is not available to outreach templates", ErrUnsupportedTemplate, expr)
	}
	if col, ok := strings.CutPrefix(expr, "flow.data."); ok && plainName(col) {
		return "data." + col, nil
	}
	if resolve == nil {
		resolve = func(w string) (string, bool) { return w, plainName(w) }
	}
	if rest, ok := strings.CutPrefix(expr, "widgets."); ok {
		if w, ok := strings.CutSuffix(rest, ".inbound.Body"); ok {
			if step, ok := resolve(w); ok {
				return "answers." + step, nil
			}
		}
		if w, ok := strings.CutSuffix(rest, ".outbound.To"); ok {
			if _, ok := resolve(w); ok {
				return "recipient.phone", nil
			}
		}
	}
	if strings.HasPrefix(expr, "trigger.") {
		return "", fmt.Errorf("%w: {{%s}}: the embedded runtime starts conversations itself, so there is no trigger message or request", ErrUnsupportedTemplate, expr)
	}
	return "", fmt.Errorf("%w: {{%s}}: the embedded engine renders flow.data.patient_first_name, flow.data.patient_id, contact.channel.address, widgets.WIDGET.outbound.To, flow.data.COLUMN and widgets.WIDGET.inbound.Body only", ErrUnsupportedTemplate, expr)
}

func plainName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

var templateRE = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)

// toLiquid turns an outreach template (already validated) into Liquid.
func toLiquid(tmpl string) string {
	return templateRE.ReplaceAllStringFunc(tmpl, func(m string) string {
		return "{{" + varToLiquid(templateRE.FindStringSubmatch(m)[1]) + "}}"
	})
}

func varToLiquid(v string) string {
	switch v {
	case "recipient.id":
		return "flow.data.patient_id"
	case "recipient.first_name":
		return "flow.data.patient_first_name"
	case "recipient.phone":
		return "contact.channel.address"
	}
	if col, ok := strings.CutPrefix(v, "data."); ok {
		return "flow.data." + strings.ToLower(col)
	}
	if step, ok := strings.CutPrefix(v, "answers."); ok {
		return "widgets." + step + ".inbound.Body"
	}
	return v
}
