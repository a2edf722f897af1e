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

// FuzzAttrsAsMarshal: appendAttrs writes what json.Marshal writes of the
// same attributes, whatever their bytes.
func FuzzAttrsAsMarshal(f *testing.F) {
	f.Add("clinic", "north", "", "")
	f.Add("a<b>&", "\u2028\u2029\x00\x1f\"\\\b\f\n\r\t", "\xff", "é😀\xed\xa0\x80")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		for _, attrs := range []map[string]string{nil, {}, {k1: v1}, {k1: v1, k2: v2, "zz": k1, "": v2}} {
			want, err := json.Marshal(attrs)
			if err != nil {
				t.Fatal(err)
			}
			if got := appendAttrs(nil, attrs); string(got) != string(want) {
				t.Fatalf("appendAttrs(%q) = %s; json.Marshal gives %s", attrs, got, want)
			}
		}
	})
}

// BenchmarkEncode encodes a new conversation with two attributes.
func BenchmarkEncode(b *testing.B) {
	c := outreach.Conversation{Zones: []string{"America/New_York"},
		Recipient: outreach.Recipient{Attrs: map[string]string{"clinic": "north", "language": "es"}}}
	var e Encoder
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Encode(c); err != nil {
			b.Fatal(err)
		}
	}
}
