package fhirio_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/patient-outreach/sms/fhirio"
	"github.com/patient-outreach/sms/flows"
	"github.com/patient-outreach/sms/outreach"
)

// validatorScript validates each resource of a JSON array file with the
// npm package fhir (an independent FHIR validator) and prints the
// error messages, one JSON object a line.
const validatorScript = `const { Fhir } = require('fhir');
const fhir = new Fhir();
const resources = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'));
resources.forEach((r, i) => {
  const res = fhir.validate(r, { errorOnUnexpected: true });
  for (const m of res.messages) {
    if (m.severity === 'error' || m.severity === 'fatal') console.log(JSON.stringify({ index: i, type: r.resourceType, location: m.location, message: m.message }));
  }
});
`

// writtenResource is one resource the package wrote, and what it is.
type writtenResource struct {
	what string
	data json.RawMessage
}

// written returns every kind of resource the package writes: the
// Questionnaires of the built-in flows and of a survey; the
// QuestionnaireResponses of a simulated campaign, as WriteResponses
// writes them (every answer type: coding, integer, decimal, string;
// completed and stopped); its Communications as WriteCommunications
// writes them, with and without payload, and one of a failed and of a
// queued message (no time); and the transaction Bundle of the
// QuestionnaireResponses.
func written(t *testing.T) []writtenResource {
	t.Helper()
	var out []writtenResource
	add := func(what string, data []byte, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		out = append(out, writtenResource{what, data})
	}
	lines := func(what string, buf *bytes.Buffer) {
		t.Helper()
		for i, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			add(fmt.Sprintf("%s line %d", what, i+1), []byte(l), nil)
		}
	}
	for _, name := range flows.BuiltinNames() {
		f, err := flows.Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		data, err := fhirio.MarshalQuestionnaire(fhirio.Questionnaire(f, "https://clinic.example.org/fhir/Questionnaire/"+f.ID))
		add("MarshalQuestionnaire("+name+")", data, err)
	}
	data, err := fhirio.MarshalQuestionnaire(fhirio.Questionnaire(surveyFlow(), "https://clinic.example.org/fhir/Questionnaire/post-visit"))
	add("MarshalQuestionnaire(post-visit)", data, err)

	ctx := context.Background()
	store, c := runSurvey(t)
	opts := fhirio.ResponseOptions{Questionnaire: "https://clinic.example.org/fhir/Questionnaire/post-visit"}
	var buf bytes.Buffer
	if _, err := fhirio.WriteResponses(ctx, &buf, store, c, opts); err != nil {
		t.Fatal(err)
	}
	lines("WriteResponses", &buf)
	for _, payload := range []bool{true, false} {
		buf.Reset()
		if _, err := fhirio.WriteCommunications(ctx, &buf, store, c, fhirio.CommunicationOptions{Payload: payload}); err != nil {
			t.Fatal(err)
		}
		lines(fmt.Sprintf("WriteCommunications(Payload %v)", payload), &buf)
	}

	convs, err := store.Conversations(ctx, c.ID, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := store.Responses(ctx, c.ID, outreach.ResponsePage{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []outreach.Message{
		{ID: 901, Direction: outreach.Outbound, Status: outreach.MessageFailed, Body: "Pain from 0 to 10?"},
		{ID: 902, Direction: outreach.Outbound, Status: outreach.MessageQueued, Body: "Pain from 0 to 10?"},
	} {
		data, err := fhirio.MarshalCommunication(fhirio.Communication(convs[0], m, fhirio.CommunicationOptions{Payload: true}))
		add(fmt.Sprintf("MarshalCommunication(%s message)", m.Status), data, err)
	}
	var qrs []fhir.QuestionnaireResponse
	for _, conv := range convs {
		var mine []outreach.Response
		for _, r := range resp {
			if r.ConversationID == conv.ID {
				mine = append(mine, r)
			}
		}
		qrs = append(qrs, fhirio.QuestionnaireResponse(c.Flow, conv, mine, opts))
	}
	b, err := fhirio.TransactionBundle(qrs)
	if err != nil {
		t.Fatal(err)
	}
	data, err = json.Marshal(b)
	add("TransactionBundle", data, err)
	return out
}

// TestWrittenCorpus checks that written holds what its comment says, so
// that the validation tests cover every kind of resource written.
func TestWrittenCorpus(t *testing.T) {
	seen := map[string]int{}
	answers := map[string]bool{}
	for _, r := range written(t) {
		var doc struct {
			ResourceType string
			Status       string
			Payload      []any
			Item         []struct{ Answer []map[string]any }
		}
		if err := json.Unmarshal(r.data, &doc); err != nil {
			t.Fatalf("%s: %v", r.what, err)
		}
		kind := doc.ResourceType
		if kind == "Communication" && len(doc.Payload) == 0 {
			kind += " without payload"
		}
		seen[kind]++
		seen[doc.ResourceType+" "+doc.Status]++
		for _, it := range doc.Item {
			for _, a := range it.Answer {
				for k := range a {
					answers[k] = true
				}
			}
		}
	}
	for _, kind := range []string{
		"Questionnaire", "QuestionnaireResponse", "Communication", "Communication without payload", "Bundle",
		"QuestionnaireResponse completed", "QuestionnaireResponse stopped",
		"Communication completed", "Communication not-done", "Communication in-progress",
	} {
		if seen[kind] == 0 {
			t.Errorf("no %s written: %v", kind, seen)
		}
	}
	for _, k := range []string{"valueCoding", "valueInteger", "valueDecimal", "valueString"} {
		if !answers[k] {
			t.Errorf("no answer with %s: %v", k, answers)
		}
	}
}

// brokenResource is a resource that breaks one rule.
type brokenResource struct {
	writtenResource
	// goOnly says why the npm validator lets it through, when it does.
	goOnly string
}

// broken holds resources that the validators must reject, so that a
// pass means something: each breaks one rule. The npm package checks
// primitives with unanchored regexes (a value passes when any part of
// it matches), so only jsonformat sees a well-placed but impossible date
// or an id with a bad character.
var broken = []brokenResource{
	{writtenResource: writtenResource{"QuestionnaireResponse without status", json.RawMessage(`{"resourceType":"QuestionnaireResponse","id":"x","subject":{"reference":"Patient/p1"}}`)}},
	{writtenResource: writtenResource{"QuestionnaireResponse with a date that is no date", json.RawMessage(`{"resourceType":"QuestionnaireResponse","id":"x","status":"completed","authored":"last Tuesday"}`)}},
	{writtenResource: writtenResource{"QuestionnaireResponse with an impossible date", json.RawMessage(`{"resourceType":"QuestionnaireResponse","id":"x","status":"completed","authored":"2026-13-45T25:00:00Z"}`)},
		goOnly: "its dateTime regex is unanchored: the leading 2026 matches"},
	{writtenResource: writtenResource{"QuestionnaireResponse with a bad id", json.RawMessage(`{"resourceType":"QuestionnaireResponse","id":"outreach_1","status":"completed"}`)},
		goOnly: "its id regex is unanchored: outreach matches"},
	{writtenResource: writtenResource{"QuestionnaireResponse with an unknown status", json.RawMessage(`{"resourceType":"QuestionnaireResponse","id":"x","status":"finished"}`)}},
	{writtenResource: writtenResource{"QuestionnaireResponse item without linkId", json.RawMessage(`{"resourceType":"QuestionnaireResponse","id":"x","status":"completed","item":[{"answer":[{"valueString":"yes"}]}]}`)}},
	{writtenResource: writtenResource{"QuestionnaireResponse answer with an integer as a string", json.RawMessage(`{"resourceType":"QuestionnaireResponse","id":"x","status":"completed","item":[{"linkId":"pain","answer":[{"valueInteger":"7"}]}]}`)}},
	{writtenResource: writtenResource{"Communication with an unknown element", json.RawMessage(`{"resourceType":"Communication","id":"x","status":"completed","sentAt":"2026-03-02T17:00:00Z"}`)}},
	{writtenResource: writtenResource{"Bundle without type", json.RawMessage(`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"QuestionnaireResponse","id":"x","status":"completed"},"request":{"method":"PUT","url":"QuestionnaireResponse/x"}}]}`)}},
	{writtenResource: writtenResource{"Bundle entry whose resource has no status", json.RawMessage(`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"QuestionnaireResponse","id":"x"},"request":{"method":"PUT","url":"QuestionnaireResponse/x"}}]}`)}},
}

// nodeModules returns the node_modules folder that holds the npm package
// fhir, from OUTREACH_TEST_FHIR_NODE_MODULES, or skips the test.
func nodeModules(t *testing.T) string {
	t.Helper()
	modules := os.Getenv("OUTREACH_TEST_FHIR_NODE_MODULES")
	if modules == "" {
		t.Skip("OUTREACH_TEST_FHIR_NODE_MODULES is not set (npm install fhir@4.12.0 into a folder, and name its node_modules)")
	}
	return modules
}

// npmValidate runs resources through the npm package fhir and returns,
// for each, the errors it reports (one JSON object each).
func npmValidate(t *testing.T, modules string, resources []writtenResource) [][]string {
	t.Helper()
	dir := t.TempDir()
	raw := make([]json.RawMessage, len(resources))
	for i, r := range resources {
		raw[i] = r.data
	}
	data, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "resources.json")
	script := filepath.Join(dir, "validate.js")
	if err := os.WriteFile(in, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(script, []byte(validatorScript), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", script, in)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	msgs := make([][]string, len(resources))
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l == "" {
			continue
		}
		var m struct{ Index int }
		if err := json.Unmarshal([]byte(l), &m); err != nil || m.Index < 0 || m.Index >= len(resources) {
			t.Fatalf("node printed %q", l)
		}
		msgs[m.Index] = append(msgs[m.Index], l)
	}
	return msgs
}

// TestWrittenResourcesValidate runs every kind of resource the package
// writes through the npm package fhir (4.12.0), an independent
// validator, when OUTREACH_TEST_FHIR_NODE_MODULES names a node_modules
// folder that holds it (CI installs it there: .ci/run); without it, the
// test skips. Any error it reports fails the test. The Go-side
// validation of the same resources is TestWrittenResourcesValidateGo.
func TestWrittenResourcesValidate(t *testing.T) {
	modules := nodeModules(t)
	resources := written(t)
	for i, msgs := range npmValidate(t, modules, resources) {
		if len(msgs) > 0 {
			t.Errorf("the fhir validator rejects %s:\n%s\n%s", resources[i].what, strings.Join(msgs, "\n"), resources[i].data)
		}
	}
}

// TestValidatorsReject checks that each validator rejects every broken
// resource: the npm package fhir (when OUTREACH_TEST_FHIR_NODE_MODULES
// is set) and google/fhir's jsonformat.
func TestValidatorsReject(t *testing.T) {
	t.Run("go", func(t *testing.T) {
		for _, r := range broken {
			if err := goValidate(r.data); err == nil {
				t.Errorf("jsonformat accepts %s: %s", r.what, r.data)
			} else {
				t.Logf("%s: %v", r.what, err)
			}
		}
	})
	t.Run("npm", func(t *testing.T) {
		modules := nodeModules(t)
		resources := make([]writtenResource, len(broken))
		for i, r := range broken {
			resources[i] = r.writtenResource
		}
		for i, msgs := range npmValidate(t, modules, resources) {
			r := broken[i]
			switch {
			case len(msgs) > 0:
				t.Logf("%s: %s", r.what, strings.Join(msgs, "; "))
			case r.goOnly != "":
				t.Logf("%s: accepted (%s)", r.what, r.goOnly)
			default:
				t.Errorf("the fhir validator accepts %s: %s", r.what, r.data)
			}
		}
	})
}

// TestWrittenResourcesDecode decodes every resource written with the
// model, in Go, and checks that no element holds two value[x].
func TestWrittenResourcesDecode(t *testing.T) {
	for i, r := range written(t) {
		var doc map[string]any
		if err := json.Unmarshal(r.data, &doc); err != nil {
			t.Fatal(err)
		}
		if doc["resourceType"] == nil {
			t.Errorf("%s has no resourceType: %s", r.what, r.data)
		}
		checkOneValue(t, i, doc)
	}
}

func checkOneValue(t *testing.T, i int, v any) {
	switch v := v.(type) {
	case map[string]any:
		n := 0
		for k, x := range v {
			if strings.HasPrefix(k, "value") && len(k) > 5 && k[5] >= 'A' && k[5] <= 'Z' {
				n++
			}
			checkOneValue(t, i, x)
		}
		if n > 1 {
			t.Errorf("resource %d: an element with %d value[x]: %v", i, n, v)
		}
	case []any:
		for _, x := range v {
			checkOneValue(t, i, x)
		}
	}
}
