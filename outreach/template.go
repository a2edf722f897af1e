package outreach

import (
	"fmt"
	"strings"
)

// Message bodies are templates: plain text with variables in double braces,
// {{recipient.first_name}}. The variables are:
//
//	recipient.id, recipient.first_name, recipient.phone   the recipient's fields
//	data.NAME                                             an extra CSV column (lower-case header)
//	answers.STEP                                          the normalised answer to ask step STEP
//
// They map one to one onto Twilio Studio's Liquid: recipient.first_name is
// {{flow.data.patient_first_name}}, data.x is {{flow.data.x}}, and
// answers.s is {{widgets.s.inbound.Body}}. A variable with no value renders
// as the empty string.

// TemplateError reports a malformed template.
type TemplateError struct {
	// Offset is the byte offset of the problem in the template.
	Offset int
	Reason string
}

func (e *TemplateError) Error() string {
	return fmt.Sprintf("template: %s at offset %d", e.Reason, e.Offset)
}

// TemplateVars returns the variables a template uses, in order of
// appearance, or a *TemplateError.
func TemplateVars(tmpl string) ([]string, error) {
	var vars []string
	err := scanTemplate(tmpl, func(lit string, v string) error {
		if v != "" {
			vars = append(vars, v)
		}
		return nil
	})
	return vars, err
}

// Render fills a template with a recipient's fields and earlier answers. It
// fails with a *TemplateError for malformed syntax and with an error naming
// the variable for an unknown namespace.
func Render(tmpl string, r Recipient, answers map[string]string) (string, error) {
	if !strings.Contains(tmpl, "{{") && !strings.Contains(tmpl, "}}") {
		return tmpl, nil
	}
	var b strings.Builder
	b.Grow(len(tmpl) + 16)
	err := scanTemplate(tmpl, func(lit, v string) error {
		b.WriteString(lit)
		if v == "" {
			return nil
		}
		val, ok := lookupVar(v, r, answers)
		if !ok {
			return fmt.Errorf("template: unknown variable %q", v)
		}
		b.WriteString(val)
		return nil
	})
	if err != nil {
		return "", err
	}
	return b.String(), nil
}

// scanTemplate calls fn with each literal run and the variable after it
// ("" after the last literal).
func scanTemplate(tmpl string, fn func(lit, v string) error) error {
	rest, off := tmpl, 0
	for {
		i := strings.Index(rest, "{{")
		if j := strings.Index(rest, "}}"); j >= 0 && (i < 0 || j < i) {
			return &TemplateError{Offset: off + j, Reason: "\"}}\" with no \"{{\" before it"}
		}
		if i < 0 {
			return fn(rest, "")
		}
		j := strings.Index(rest[i+2:], "}}")
		if j < 0 {
			return &TemplateError{Offset: off + i, Reason: "\"{{\" is not closed"}
		}
		name := strings.TrimSpace(rest[i+2 : i+2+j])
		if !validVarName(name) {
			return &TemplateError{Offset: off + i, Reason: fmt.Sprintf("%q is not a variable name such as recipient.first_name", name)}
		}
		if err := fn(rest[:i], name); err != nil {
			return err
		}
		n := i + 2 + j + 2
		rest, off = rest[n:], off+n
	}
}

func validVarName(s string) bool {
	ns, field, ok := strings.Cut(s, ".")
	if !ok || ns == "" || field == "" {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c == '.' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// knownVar reports whether a variable's namespace and field exist.
func knownVar(v string) bool {
	ns, field, _ := strings.Cut(v, ".")
	switch ns {
	case "recipient":
		return field == "id" || field == "first_name" || field == "phone"
	case "data", "answers":
		return field != ""
	}
	return false
}

func lookupVar(v string, r Recipient, answers map[string]string) (string, bool) {
	if !knownVar(v) {
		return "", false
	}
	ns, field, _ := strings.Cut(v, ".")
	switch ns {
	case "recipient":
		switch field {
		case "id":
			return r.ID, true
		case "first_name":
			return r.FirstName, true
		case "phone":
			return r.Phone, true
		}
	case "data":
		return r.Attrs[strings.ToLower(field)], true
	case "answers":
		return answers[field], true
	}
	return "", false
}
