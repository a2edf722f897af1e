package schema

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// FlowDefinitionURL is the $id of Twilio's flow definition schema, the
// root that Validate checks a definition against.
const FlowDefinitionURL = "https://schemas.twilio.com/studio/draft/2019-09/flow-definition"

// WidgetURLPrefix is the prefix of the widget schemas' $id: the widget
// type follows it, as in WidgetURLPrefix + "send-message".
const WidgetURLPrefix = "https://schemas.twilio.com/studio/draft/2019-09/widgets/"

//go:embed schemas
var files embed.FS

// Problem is one reason a definition is invalid, shaped as an entry of
// details.errors in Twilio's 81022 error.
type Problem struct {
	// Message says what is wrong, in English.
	Message string `json:"message"`
	// PropertyPath is a JSON pointer fragment to the offending value,
	// such as "#/states/3/properties/input" ("#" for the whole
	// definition).
	PropertyPath string `json:"property_path"`
}

// Error is the error [Validate] returns for an invalid definition.
type Error struct {
	// Problems are the reasons, in the order of their PropertyPath.
	Problems []Problem
}

// Error lists the problems on one line.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("studio flow definition is invalid")
	for i, p := range e.Problems {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(p.PropertyPath)
		b.WriteString(": ")
		b.WriteString(p.Message)
	}
	return b.String()
}

// Code is Twilio's error code for an invalid flow definition.
const Code = 81022

// WidgetTypes returns the widget types there is a schema for, sorted.
func WidgetTypes() []string {
	return append([]string(nil), loaded().types...)
}

type compiled struct {
	root  *jsonschema.Schema
	types []string
	err   error
}

// loaded compiles the embedded schemas, once.
var loaded = sync.OnceValue(func() compiled {
	docs := map[string]any{}
	var types []string
	err := fs.WalkDir(files, "schemas", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".json" {
			return err
		}
		raw, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		m, _ := doc.(map[string]any)
		id, _ := m["$id"].(string)
		if id == "" {
			return fmt.Errorf("%s: no $id", p)
		}
		if _, dup := docs[id]; dup {
			return fmt.Errorf("%s: $id %s used twice", p, id)
		}
		docs[id] = doc
		if t, ok := strings.CutPrefix(id, WidgetURLPrefix); ok {
			types = append(types, t)
		}
		return nil
	})
	if err != nil {
		return compiled{err: err}
	}
	sort.Strings(types)
	c := jsonschema.NewCompiler()
	c.UseLoader(memLoader(docs))
	root, err := c.Compile(FlowDefinitionURL)
	if err != nil {
		return compiled{err: err}
	}
	return compiled{root: root, types: types}
})

// memLoader serves the embedded schemas by their $id and refuses every
// other URL, so that compiling never reaches the network.
type memLoader map[string]any

func (m memLoader) Load(url string) (any, error) {
	if doc, ok := m[url]; ok {
		return doc, nil
	}
	return nil, fmt.Errorf("schema: no embedded schema at %s (the validator never loads schemas from the network)", url)
}

// Validate checks a flow definition (the JSON sent as the Definition
// parameter of the Flows API) as Studio does. It returns nil when the
// definition is valid and an [*Error] listing every problem found when it
// is not. Any other error means the embedded schemas could not be
// compiled: a bug in this package.
func Validate(definition []byte) error {
	c := loaded()
	if c.err != nil {
		return fmt.Errorf("schema: compiling the embedded Studio schemas: %w", c.err)
	}
	if len(bytes.TrimSpace(definition)) == 0 {
		return &Error{Problems: []Problem{{Message: "Definition is required", PropertyPath: "#"}}}
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(definition))
	if err != nil {
		return &Error{Problems: []Problem{{Message: "Definition is not valid JSON", PropertyPath: "#"}}}
	}
	var problems []Problem
	if err := c.root.Validate(doc); err != nil {
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) {
			return fmt.Errorf("schema: validating: %w", err)
		}
		problems = flatten(ve, problems)
	}
	problems = append(problems, graphProblems(doc)...)
	if len(problems) == 0 {
		return nil
	}
	problems = dedupe(problems)
	sort.SliceStable(problems, func(i, j int) bool { return pathLess(problems[i].PropertyPath, problems[j].PropertyPath) })
	return &Error{Problems: problems}
}

// flatten appends the leaves of a validation error tree: the failures
// that say what is wrong rather than which schema was being applied. A
// missing required property is reported at the path it should have.
func flatten(ve *jsonschema.ValidationError, out []Problem) []Problem {
	if len(ve.Causes) > 0 {
		for _, c := range ve.Causes {
			out = flatten(c, out)
		}
		return out
	}
	if k, ok := ve.ErrorKind.(*kind.Required); ok {
		for _, prop := range k.Missing {
			loc := append(append([]string(nil), ve.InstanceLocation...), prop)
			out = append(out, Problem{Message: "is missing but it is required", PropertyPath: pointer(loc)})
		}
		return out
	}
	return append(out, Problem{Message: message(ve), PropertyPath: pointer(ve.InstanceLocation)})
}

// message describes a leaf failure. The messages of the kinds the
// embedded schemas use never quote the offending value (a message body or
// a phone number may be in it); enumerations list what is allowed.
func message(ve *jsonschema.ValidationError) string {
	switch k := ve.ErrorKind.(type) {
	case *kind.Type:
		return fmt.Sprintf("%s found, %s expected", k.Got, strings.Join(k.Want, " or "))
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = fmt.Sprint(w)
		}
		got := ""
		if g, ok := k.Got.(string); ok && len(g) <= 40 && !strings.ContainsAny(g, " +@") {
			got = fmt.Sprintf("%q ", g) // a token such as a widget or condition type
		}
		return got + "does not have a value in the enumeration [" + strings.Join(want, ", ") + "]"
	case *kind.Const:
		return fmt.Sprintf("must be the constant value %v", k.Want)
	case *kind.MinLength:
		if k.Want == 1 {
			return "must not be empty"
		}
		return fmt.Sprintf("must be at least %d characters long", k.Want)
	case *kind.MinItems:
		return fmt.Sprintf("must have at least %d items", k.Want)
	case *kind.MaxItems:
		return fmt.Sprintf("must have at most %d items", k.Want)
	case *kind.AdditionalProperties:
		return "has properties the schema does not define: " + strings.Join(k.Properties, ", ")
	}
	// Other kinds: the validator's own wording, without its location
	// prefix.
	msg := ve.Error()
	if i := strings.Index(msg, "': "); strings.HasPrefix(msg, "at '") && i >= 0 {
		msg = msg[i+3:]
	}
	return msg
}

// pointer turns an instance location into a JSON pointer fragment.
func pointer(loc []string) string {
	var b strings.Builder
	b.WriteString("#")
	for _, tok := range loc {
		b.WriteByte('/')
		tok = strings.ReplaceAll(tok, "~", "~0")
		b.WriteString(strings.ReplaceAll(tok, "/", "~1"))
	}
	return b.String()
}

// pathLess orders JSON pointers by their tokens, numbers numerically, so
// that #/states/10 comes after #/states/9.
func pathLess(a, b string) bool {
	at, bt := strings.Split(a, "/"), strings.Split(b, "/")
	for i := 0; i < len(at) && i < len(bt); i++ {
		if at[i] == bt[i] {
			continue
		}
		an, aerr := strconv.Atoi(at[i])
		bn, berr := strconv.Atoi(bt[i])
		if aerr == nil && berr == nil {
			return an < bn
		}
		return at[i] < bt[i]
	}
	return len(at) < len(bt)
}

func dedupe(ps []Problem) []Problem {
	seen := map[Problem]bool{}
	out := ps[:0]
	for _, p := range ps {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// MarshalJSON writes the error as the body of Twilio's 81022 answer.
func (e *Error) MarshalJSON() ([]byte, error) {
	problems := e.Problems
	if problems == nil {
		problems = []Problem{}
	}
	return json.Marshal(map[string]any{
		"code":    Code,
		"message": "Flow definition validation failed",
		"details": map[string]any{"errors": problems},
	})
}
