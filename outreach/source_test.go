package outreach_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/patient-outreach/sms/outreach"
)

// TestFlowSource: a flow's Source survives Clone and JSON, and Validate
// ignores it.
func TestFlowSource(t *testing.T) {
	f := &outreach.Flow{
		ID:     "imported",
		Steps:  []outreach.Step{{ID: "hi", Kind: outreach.StepSend, Body: "Hello"}},
		Source: &outreach.Source{Format: "twilio-studio", Data: json.RawMessage(`{"states":[{"name":"hi-there"}],"flags":{"allow_concurrent_calls":false}}`)},
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	c := f.Clone()
	if !reflect.DeepEqual(c, f) {
		t.Errorf("Clone = %+v, want %+v", c.Source, f.Source)
	}
	c.Source.Data[2] = 'X'
	if f.Source.Data[2] == 'X' {
		t.Error("Clone shares the source's data")
	}
	// A flow without a source has none in JSON.
	f.Source = nil
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["source"]; ok {
		t.Errorf("source in %s", b)
	}
}
