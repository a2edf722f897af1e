package convjson

import (
	"encoding/json"
	"testing"

	"github.com/patient-outreach/sms/outreach"
)

// Each conversation's columns are what json.Marshal writes of it, however
// the conversations before it were: the kept JSON is never stale.
func TestEncodeAsMarshal(t *testing.T) {
	ny, hi := []string{"America/New_York"}, []string{"Pacific/Honolulu"}
	started := outreach.State{Step: "ask", Started: true}
	convs := []outreach.Conversation{
		{Zones: ny},
		{Zones: ny, State: started},
		{Zones: append([]string(nil), ny...)},
		{Zones: hi, Recipient: outreach.Recipient{Attrs: map[string]string{"clinic": "north"}}},
		{Zones: nil},
		{Zones: []string{}},
		{Zones: hi, State: outreach.State{Attempts: map[string]int{}}},
		{},
		{Zones: ny},
	}
	var e Encoder
	for i, c := range convs {
		got, err := e.Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		want := Columns{Attrs: js(t, c.Recipient.Attrs), Zones: js(t, c.Zones), State: js(t, c.State)}
		if got != want {
			t.Errorf("conversation %d: %+v; json.Marshal gives %+v", i, got, want)
		}
	}
}

func js(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
