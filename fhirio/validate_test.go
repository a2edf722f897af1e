package fhirio_test

import (
	"context"
	"encoding/json"
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

// written returns every kind of resource the package writes: the
// Questionnaires of the built-in flows and of a survey, the
// QuestionnaireResponses of a simulated campaign, and their transaction
// Bundle.
func written(t *testing.T) []json.RawMessage {
	t.Helper()
	var out []json.RawMessage
	add := func(v any) {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, data)
	}
	for _, name := range flows.BuiltinNames() {
		f, err := flows.Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		data, err := fhirio.MarshalQuestionnaire(fhirio.Questionnaire(f, "https://clinic.example.org/fhir/Questionnaire/"+f.ID))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, data)
	}
	ctx := context.Background()
	store, c := runSurvey(t)
	convs, err := store.Conversations(ctx, c.ID, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := store.Responses(ctx, c.ID, outreach.ResponsePage{})
	if err != nil {
		t.Fatal(err)
	}
	var qrs []fhir.QuestionnaireResponse
	for _, conv := range convs {
		var mine []outreach.Response
		for _, r := range resp {
			if r.ConversationID == conv.ID {
				mine = append(mine, r)
			}
		}
		qr := fhirio.QuestionnaireResponse(c.Flow, conv, mine, fhirio.ResponseOptions{Questionnaire: "https://clinic.example.org/fhir/Questionnaire/post-visit"})
		add(qr)
		qrs = append(qrs, qr)
	}
	for _, conv := range convs {
		msgs, err := store.Messages(ctx, conv.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			data, err := fhirio.MarshalCommunication(fhirio.Communication(conv, m, fhirio.CommunicationOptions{Payload: true}))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, data)
		}
	}
	b, err := fhirio.TransactionBundle(qrs)
	if err != nil {
		t.Fatal(err)
	}
	add(b)
	data, err := fhirio.MarshalQuestionnaire(fhirio.Questionnaire(surveyFlow(), "https://clinic.example.org/fhir/Questionnaire/post-visit"))
	if err != nil {
		t.Fatal(err)
	}
	return append(out, data)
}

// TestWrittenResourcesValidate runs every kind of resource the package
// writes through the npm package fhir (4.12.0), an independent
// validator, when OUTREACH_TEST_FHIR_NODE_MODULES names a node_modules
// folder that holds it (CI installs it there: .ci/run); without it, the
// test skips. Any error it reports fails the test.
func TestWrittenResourcesValidate(t *testing.T) {
	modules := os.Getenv("OUTREACH_TEST_FHIR_NODE_MODULES")
	if modules == "" {
		t.Skip("OUTREACH_TEST_FHIR_NODE_MODULES is not set (npm install fhir@4.12.0 into a folder, and name its node_modules)")
	}
	dir := t.TempDir()
	data, err := json.Marshal(written(t))
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
	if msgs := strings.TrimSpace(string(out)); msgs != "" {
		t.Errorf("the fhir validator rejects what fhirio writes:\n%s", msgs)
	}
}

// TestWrittenResourcesDecode decodes every resource written with the
// model, in Go, and checks that no element holds two value[x].
func TestWrittenResourcesDecode(t *testing.T) {
	for i, r := range written(t) {
		var doc map[string]any
		if err := json.Unmarshal(r, &doc); err != nil {
			t.Fatal(err)
		}
		if doc["resourceType"] == nil {
			t.Errorf("resource %d has no resourceType: %s", i, r)
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
