package flows

// Regression tests from review: each one failed on a bug of the loader, now fixed.

import (
	"strings"
	"testing"
)

// JSON null leaves every optional field of a flow as it is ("answer",
// "max_reasks", ...), as encoding/json does, except "timeout":
// Duration.UnmarshalJSON does not treat null as a no-op (the convention
// encoding/json documents for Unmarshalers), so a flow written by a tool
// that emits null for unset fields is refused with the puzzling
// `duration "": time: invalid duration ""`.
func TestRegressionLoadNullTimeout(t *testing.T) {
	in := `{"id": "f", "steps": [
  {"id": "q", "kind": "ask", "body": "Pain 0-10?", "answer": {"kind": "integer", "min": 0, "max": 10},
   "max_reasks": null, "timeout": null, "next": "bye"},
  {"id": "bye", "kind": "end", "outcome": "done"}
]}`
	if _, err := Load(strings.NewReader(in)); err != nil {
		t.Fatalf("Load: %v; want \"timeout\": null read as no timeout, as null is for max_reasks", err)
	}
}
