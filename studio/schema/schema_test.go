package schema_test

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/patient-outreach/sms/studio/schema"
)

// base is a valid definition shaped as the Studio console exports one:
// a trigger, a message, a question, a split on the answer, a variable.
func base() map[string]any {
	return map[string]any{
		"description":   "Check-in",
		"flags":         map[string]any{"allow_concurrent_calls": true},
		"initial_state": "Trigger",
		"states": []any{
			map[string]any{ // 0
				"name": "Trigger", "type": "trigger",
				"properties": map[string]any{"offset": map[string]any{"x": 0, "y": 0}},
				"transitions": []any{
					map[string]any{"event": "incomingMessage"},
					map[string]any{"event": "incomingCall"},
					map[string]any{"event": "incomingConversationMessage"},
					map[string]any{"event": "incomingRequest", "next": "hello"},
					map[string]any{"event": "incomingParent"},
				},
			},
			map[string]any{ // 1
				"name": "hello", "type": "send-message",
				"properties": map[string]any{
					"offset": map[string]any{"x": 40, "y": 210},
					"from":   "{{flow.channel.address}}", "to": "{{contact.channel.address}}",
					"service": "{{trigger.message.InstanceSid}}", "channel": "{{trigger.message.ChannelSid}}",
					"body": "SECRET-BODY hello",
				},
				"transitions": []any{map[string]any{"event": "sent", "next": "ask"}, map[string]any{"event": "failed"}},
			},
			map[string]any{ // 2
				"name": "ask", "type": "send-and-wait-for-reply",
				"properties": map[string]any{
					"offset": map[string]any{"x": 40, "y": 430},
					"from":   "{{flow.channel.address}}", "body": "How are you, 1-10?", "timeout": "3600",
				},
				"transitions": []any{
					map[string]any{"event": "incomingMessage", "next": "split"},
					map[string]any{"event": "timeout"},
					map[string]any{"event": "deliveryFailure"},
				},
			},
			map[string]any{ // 3
				"name": "split", "type": "split-based-on",
				"properties": map[string]any{"input": "{{widgets.ask.inbound.Body}}", "offset": map[string]any{"x": 40, "y": 650}},
				"transitions": []any{
					map[string]any{"event": "noMatch"},
					map[string]any{"event": "match", "next": "good", "conditions": []any{
						map[string]any{"friendly_name": "high", "arguments": []any{"{{widgets.ask.inbound.Body}}"}, "type": "greater_than", "value": "7"},
					}},
				},
			},
			map[string]any{ // 4
				"name": "good", "type": "set-variables",
				"properties":  map[string]any{"variables": []any{map[string]any{"key": "outcome", "value": "good"}}},
				"transitions": []any{map[string]any{"event": "next"}},
			},
		},
	}
}

func state(d map[string]any, i int) map[string]any { return d["states"].([]any)[i].(map[string]any) }
func props(d map[string]any, i int) map[string]any {
	return state(d, i)["properties"].(map[string]any)
}
func transition(d map[string]any, i, j int) map[string]any {
	return state(d, i)["transitions"].([]any)[j].(map[string]any)
}

func edit(fn func(d map[string]any)) []byte {
	d := base()
	fn(d)
	b, err := json.Marshal(d)
	if err != nil {
		panic(err)
	}
	return b
}

func TestValid(t *testing.T) {
	for name, def := range map[string][]byte{
		"console-like": edit(func(map[string]any) {}),
		"no description, no flags": edit(func(d map[string]any) {
			delete(d, "description")
			delete(d, "flags")
		}),
		"$schema given": edit(func(d map[string]any) { d["$schema"] = schema.FlowDefinitionURL }),
		"unconnected and empty next": edit(func(d map[string]any) {
			transition(d, 1, 0)["next"] = ""
		}),
		"content template instead of a body": edit(func(d map[string]any) {
			p := props(d, 1)
			delete(p, "body")
			p["message_type"], p["content_sid"] = "content_template", "HX00000000000000000000000000000000"
			p["content_variables"] = []any{map[string]any{"key": "{{1}}", "value": "{{flow.data.first_name}}"}}
		}),
		"every condition type": edit(func(d map[string]any) {
			var ts []any
			for _, typ := range []string{"equal_to", "not_equal_to", "matches_any_of", "does_not_match_any_of",
				"is_blank", "is_not_blank", "regex", "contains", "does_not_contain", "starts_with",
				"does_not_start_with", "less_than", "greater_than", "is_before_time", "is_after_time",
				"is_before_date", "is_after_date"} {
				ts = append(ts, map[string]any{"event": "match", "next": "good", "conditions": []any{
					map[string]any{"friendly_name": typ, "arguments": []any{"{{x}}"}, "type": typ, "value": "1"},
				}})
			}
			state(d, 3)["transitions"] = append(ts, map[string]any{"event": "noMatch"})
		}),
		"console properties the docs do not describe": edit(func(d map[string]any) {
			props(d, 2)["service"] = "{{trigger.message.InstanceSid}}"
			props(d, 4)["variables"] = []any{map[string]any{"type": "string", "key": "k", "value": "v"}}
		}),
		"voice and tool widgets": edit(func(d map[string]any) {
			st := func(name, typ string, p map[string]any, events ...string) map[string]any {
				var ts []any
				for _, e := range events {
					ts = append(ts, map[string]any{"event": e})
				}
				return map[string]any{"name": name, "type": typ, "properties": p, "transitions": ts}
			}
			d["states"] = append(d["states"].([]any),
				st("say", "say-play", map[string]any{"say": "Hi", "loop": 1, "voice": "alice"}, "audioComplete"),
				st("gather", "gather-input-on-call", map[string]any{"timeout": 5, "speech_timeout": "auto",
					"profanity_filter": "true", "stop_gather": true, "finish_on_key": "#"}, "keypress", "speech", "timeout"),
				st("http", "make-http-request", map[string]any{"method": "POST", "url": "https://example.com",
					"content_type": "application/json;charset=utf-8", "body": "{}"}, "success", "failed"),
				st("fn", "run-function", map[string]any{"url": "https://x.twil.io/f",
					"parameters": []any{map[string]any{"key": "a", "value": "b"}}}, "success", "fail"),
				st("sub", "run-subflow", map[string]any{"flow_sid": "FW00000000000000000000000000000000",
					"flow_revision": "LatestPublished"}, "completed", "failed"),
				st("flex", "send-to-flex", map[string]any{"workflow": "WW0", "channel": "TC0",
					"attributes": "{}", "priority": "0", "timeout": "3600"}, "callComplete", "failedToEnqueue", "callFailure"),
				st("call", "make-outgoing-call-v2", map[string]any{"from": "{{flow.channel.address}}",
					"to": "{{contact.channel.address}}", "trim": "true", "machine_detection_timeout": "30",
					"timeout": 60, "record": false}, "answered", "busy", "noAnswer", "failed"),
				st("connect", "connect-call-to", map[string]any{"noun": "number", "to": "+15555550100",
					"caller_id": "{{contact.channel.address}}", "record": false, "timeout": 30}, "callCompleted", "hangup"),
				st("vm", "record-voicemail", map[string]any{"timeout": 5, "max_length": 3600, "trim": "trim-silence",
					"play_beep": "true", "transcribe": false, "finish_on_key": "#"}, "recordingComplete", "noAudio", "hangup"),
				st("redirect", "add-twiml-redirect", map[string]any{"url": "https://example.com/twiml",
					"method": "POST", "timeout": "14400"}, "return", "timeout", "fail"),
				st("stream", "fork-stream", map[string]any{"stream_action": "start", "stream_name": "s",
					"stream_transport_type": "websocket", "stream_url": "wss://example.com",
					"stream_track": "inbound_track"}, "next"),
				st("pay", "capture-payments", map[string]any{"security_code": true, "postal_code": "true",
					"timeout": 5, "max_attempts": 2, "valid_card_types": []any{"visa"}}, "success", "hangup"),
				st("queue", "enqueue-call", map[string]any{"queue_name": "q", "priority": 0}, "callComplete"),
			)
		}),
	} {
		if err := schema.Validate(def); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestInvalid(t *testing.T) {
	for name, tc := range map[string]struct {
		def  []byte
		path string // property_path of the first problem
	}{
		"unknown condition type is_between": {edit(func(d map[string]any) {
			transition(d, 3, 1)["conditions"].([]any)[0].(map[string]any)["type"] = "is_between"
		}), "#/states/3/transitions/1/conditions/0/type"},
		"unknown condition type is_greater_than": {edit(func(d map[string]any) {
			transition(d, 3, 1)["conditions"].([]any)[0].(map[string]any)["type"] = "is_greater_than"
		}), "#/states/3/transitions/1/conditions/0/type"},
		"condition without arguments": {edit(func(d map[string]any) {
			delete(transition(d, 3, 1)["conditions"].([]any)[0].(map[string]any), "arguments")
		}), "#/states/3/transitions/1/conditions/0/arguments"},
		"match without conditions": {edit(func(d map[string]any) {
			delete(transition(d, 3, 1), "conditions")
		}), "#/states/3/transitions/1/conditions"},
		"split without input":       {edit(func(d map[string]any) { delete(props(d, 3), "input") }), "#/states/3/properties/input"},
		"send-message without body": {edit(func(d map[string]any) { delete(props(d, 1), "body") }), "#/states/1/properties/body"},
		"send-message without from": {edit(func(d map[string]any) { delete(props(d, 1), "from") }), "#/states/1/properties/from"},
		"template without content_sid": {edit(func(d map[string]any) {
			props(d, 2)["message_type"] = "content_template"
		}), "#/states/2/properties/content_sid"},
		"integer timeout": {edit(func(d map[string]any) { props(d, 2)["timeout"] = 3600 }), "#/states/2/properties/timeout"},
		"bad widget type": {edit(func(d map[string]any) { state(d, 1)["type"] = "send-sms" }), "#/states/1/type"},
		"no widget type":  {edit(func(d map[string]any) { delete(state(d, 1), "type") }), "#/states/1/type"},
		"unknown event": {edit(func(d map[string]any) {
			transition(d, 1, 1)["event"] = "delivered"
		}), "#/states/1/transitions/1/event"},
		"transition without event": {edit(func(d map[string]any) {
			delete(transition(d, 1, 1), "event")
		}), "#/states/1/transitions/1/event"},
		"state with an unknown key": {edit(func(d map[string]any) { state(d, 1)["comment"] = "x" }), "#/states/1"},
		"state without properties":  {edit(func(d map[string]any) { delete(state(d, 4), "properties") }), "#/states/4/properties"},
		"state without a name":      {edit(func(d map[string]any) { delete(state(d, 4), "name") }), "#/states/4/name"},
		"duplicate names":           {edit(func(d map[string]any) { state(d, 4)["name"] = "hello" }), "#/states/4/name"},
		"transition to a missing widget": {edit(func(d map[string]any) {
			transition(d, 1, 0)["next"] = "nowhere"
		}), "#/states/1/transitions/0/next"},
		"initial_state names no widget": {edit(func(d map[string]any) { d["initial_state"] = "Start" }), "#/initial_state"},
		"initial_state not the trigger": {edit(func(d map[string]any) { d["initial_state"] = "hello" }), "#/initial_state"},
		"no initial_state":              {edit(func(d map[string]any) { delete(d, "initial_state") }), "#/initial_state"},
		"empty initial_state":           {edit(func(d map[string]any) { d["initial_state"] = "" }), "#/initial_state"},
		"no states":                     {edit(func(d map[string]any) { delete(d, "states") }), "#/states"},
		"empty states":                  {edit(func(d map[string]any) { d["states"] = []any{} }), "#/states"},
		"flags without allow_concurrent_calls": {edit(func(d map[string]any) {
			d["flags"] = map[string]any{}
		}), "#/flags/allow_concurrent_calls"},
		"unknown top-level key":    {edit(func(d map[string]any) { d["version"] = 2 }), "#"},
		"wrong $schema":            {edit(func(d map[string]any) { d["$schema"] = "http://json-schema.org/draft-07/schema#" }), "#/$schema"},
		"description not a string": {edit(func(d map[string]any) { d["description"] = 1 }), "#/description"},
		"fork-stream capitalized action": {edit(func(d map[string]any) {
			d["states"] = append(d["states"].([]any), map[string]any{"name": "fs", "type": "fork-stream",
				"properties": map[string]any{"stream_action": "Start"}, "transitions": []any{}})
		}), "#/states/5/properties/stream_action"},
		"not JSON":      {[]byte(`{"states": [`), "#"},
		"empty":         {[]byte(" "), "#"},
		"not an object": {[]byte(`[]`), "#"},
		"a JSON string": {[]byte(`"{}"`), "#"},
	} {
		err := schema.Validate(tc.def)
		var e *schema.Error
		if !errors.As(err, &e) || len(e.Problems) == 0 {
			t.Errorf("%s: got %v, want a *schema.Error", name, err)
			continue
		}
		var paths []string
		for _, p := range e.Problems {
			paths = append(paths, p.PropertyPath)
			if p.Message == "" {
				t.Errorf("%s: empty message at %s", name, p.PropertyPath)
			}
			if strings.Contains(p.Message, "SECRET-BODY") {
				t.Errorf("%s: message quotes a message body: %s", name, p.Message)
			}
		}
		if !slices.Contains(paths, tc.path) {
			t.Errorf("%s: problems at %v, want one at %s (%v)", name, paths, tc.path, err)
		}
	}
}

// TestErrorShape checks the error marshals as Twilio's 81022 answer and
// lists problems in document order.
func TestErrorShape(t *testing.T) {
	err := schema.Validate(edit(func(d map[string]any) {
		for i := range 12 {
			d["states"] = append(d["states"].([]any), map[string]any{"name": "s" + string(rune('a'+i)), "type": "set-variables",
				"properties": map[string]any{}, "transitions": []any{map[string]any{"event": "next", "next": "missing"}}})
		}
		delete(props(d, 3), "input")
	}))
	var e *schema.Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v", err)
	}
	if e.Problems[0].PropertyPath != "#/states/3/properties/input" || e.Problems[1].PropertyPath != "#/states/5/transitions/0/next" ||
		e.Problems[len(e.Problems)-1].PropertyPath != "#/states/16/transitions/0/next" {
		t.Errorf("order: %v", e.Problems)
	}
	raw, _ := json.Marshal(e)
	var body struct {
		Code    int
		Message string
		Details struct {
			Errors []map[string]string
		}
	}
	if err := json.Unmarshal(raw, &body); err != nil || body.Code != 81022 || body.Message != "Flow definition validation failed" ||
		len(body.Details.Errors) != len(e.Problems) || body.Details.Errors[0]["property_path"] != "#/states/3/properties/input" ||
		body.Details.Errors[0]["message"] == "" {
		t.Errorf("marshalled %s, %v", raw, err)
	}
	if !strings.Contains(e.Error(), "#/states/3/properties/input") {
		t.Errorf("Error() = %q", e.Error())
	}
}

// TestSchemaFiles checks every embedded schema names itself after its
// file, so that the README's table and the $id agree.
func TestSchemaFiles(t *testing.T) {
	var widgets []string
	err := filepath.WalkDir("schemas", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var doc struct {
			ID string `json:"$id"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		base := strings.TrimSuffix(filepath.Base(p), ".json")
		if !strings.HasSuffix(doc.ID, "/"+base) {
			t.Errorf("%s: $id %s does not end in /%s", p, doc.ID, base)
		}
		if filepath.Dir(p) == filepath.Join("schemas", "widgets") {
			widgets = append(widgets, base)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range widgets {
		if !strings.Contains(string(readme), "`schemas/widgets/"+w+".json`") {
			t.Errorf("README.md does not list schemas/widgets/%s.json", w)
		}
	}
	slices.Sort(widgets)
	if got := schema.WidgetTypes(); !slices.Equal(got, widgets) {
		t.Errorf("WidgetTypes() = %v, want %v", got, widgets)
	}
	// The flow definition dispatches on exactly these types.
	raw, err := os.ReadFile("schemas/flow-definition.json")
	if err != nil {
		t.Fatal(err)
	}
	var flow struct {
		Properties struct {
			States struct {
				Items struct {
					Properties struct {
						Type struct {
							Enum []string
						}
					}
					AllOf []any
				}
			}
		}
	}
	if err := json.Unmarshal(raw, &flow); err != nil {
		t.Fatal(err)
	}
	enum := slices.Sorted(slices.Values(flow.Properties.States.Items.Properties.Type.Enum))
	if !slices.Equal(enum, widgets) || len(flow.Properties.States.Items.AllOf) != len(widgets) {
		t.Errorf("flow-definition.json dispatches on %v (%d), want %v", enum, len(flow.Properties.States.Items.AllOf), widgets)
	}
	for _, w := range []string{"trigger", "send-message", "send-and-wait-for-reply", "split-based-on", "set-variables",
		"make-http-request", "run-function", "run-subflow", "say-play", "gather-input-on-call", "send-to-flex",
		"make-outgoing-call-v2", "connect-call-to", "record-voicemail", "enqueue-call", "capture-payments",
		"add-twiml-redirect", "fork-stream", "connect-virtual-agent", "send-to-auto-pilot"} {
		if !slices.Contains(widgets, w) {
			t.Errorf("no schema for widget type %s", w)
		}
	}
}
