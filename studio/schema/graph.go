package schema

import (
	"fmt"
	"strconv"
)

// graphProblems checks what the schemas cannot: widget names are unique,
// every transition's next names a widget, and initial_state names the
// trigger widget. It looks only at values of the right JSON type and
// leaves wrong types to the schema.
func graphProblems(doc any) []Problem {
	def, _ := doc.(map[string]any)
	states, _ := def["states"].([]any)
	if def == nil || len(states) == 0 {
		return nil
	}
	var out []Problem
	types := map[string]string{} // widget name -> type
	for i, st := range states {
		m, _ := st.(map[string]any)
		name, _ := m["name"].(string)
		if name == "" {
			continue
		}
		if _, dup := types[name]; dup {
			out = append(out, Problem{
				Message:      fmt.Sprintf("Widget names must be unique: %q is the name of more than one widget", name),
				PropertyPath: "#/states/" + strconv.Itoa(i) + "/name",
			})
			continue
		}
		typ, _ := m["type"].(string)
		types[name] = typ
	}
	for i, st := range states {
		m, _ := st.(map[string]any)
		ts, _ := m["transitions"].([]any)
		for j, t := range ts {
			tm, _ := t.(map[string]any)
			next, _ := tm["next"].(string)
			if _, ok := types[next]; next != "" && !ok {
				out = append(out, Problem{
					Message:      fmt.Sprintf("Transition to a widget that does not exist: %q", next),
					PropertyPath: fmt.Sprintf("#/states/%d/transitions/%d/next", i, j),
				})
			}
		}
	}
	if initial, ok := def["initial_state"].(string); ok && initial != "" {
		switch typ, ok := types[initial]; {
		case !ok:
			out = append(out, Problem{
				Message:      fmt.Sprintf("initial_state names no widget: %q", initial),
				PropertyPath: "#/initial_state",
			})
		case typ != "trigger":
			out = append(out, Problem{
				Message:      fmt.Sprintf("initial_state must name the trigger widget, not a %q widget", typ),
				PropertyPath: "#/initial_state",
			})
		}
	}
	return out
}
