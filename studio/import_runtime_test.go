package studio_test

import (
	"strings"
	"testing"
	"time"

	"github.com/patient-outreach/sms/studio"
)

// hyphenated is a hand-made export with widget names that are not step
// ids, as Twilio's own templates write them.
const hyphenated = `{"description":"names with hyphens","initial_state":"Trigger","flags":{"allow_concurrent_calls":true},"states":[
{"name":"Trigger","type":"trigger","transitions":[{"event":"incomingMessage"},{"event":"incomingCall"},{"event":"incomingRequest","next":"pain-q"}],"properties":{"offset":{"x":0,"y":0}}},
{"name":"pain-q","type":"send-and-wait-for-reply","transitions":[{"event":"incomingMessage","next":"pain-split"},{"event":"timeout"},{"event":"deliveryFailure"}],"properties":{"offset":{"x":10,"y":200},"service":"{{trigger.message.InstanceSid}}","channel":"{{trigger.message.ChannelSid}}","from":"{{flow.channel.address}}","body":"Hi {{flow.data.patient_first_name}}, is your pain ok? Reply STOP to opt out.","timeout":"3600"}},
{"name":"pain-split","type":"split-based-on","transitions":[{"event":"noMatch","next":"call-you"},{"event":"match","next":"good-bye","conditions":[{"friendly_name":"ok","arguments":["{{widgets.pain-q.inbound.Body}}"],"type":"equal_to","value":"ok"}]}],"properties":{"input":"{{widgets.pain-q.inbound.Body}}","offset":{"x":10,"y":400}}},
{"name":"call-you","type":"send-message","transitions":[{"event":"sent"},{"event":"failed"}],"properties":{"offset":{"x":200,"y":600},"from":"{{flow.channel.address}}","to":"{{widgets.pain-q.outbound.To}}","body":"You said {{widgets.pain-q.inbound.Body}}: we will call you."}},
{"name":"good-bye","type":"send-message","transitions":[{"event":"sent"},{"event":"failed"}],"properties":{"offset":{"x":0,"y":600},"from":"{{flow.channel.address}}","to":"{{contact.channel.address}}","body":"Glad to hear it."}}]}`

// TestStudioHyphenatedWidgets imports a definition whose widget names
// have hyphens and runs it through both runtimes: the Studio runtime
// deploys the widgets under their own names and collects the answers
// under the step ids the import gave them, as the engine records them.
func TestStudioHyphenatedWidgets(t *testing.T) {
	t.Parallel()
	d, err := studio.Decode([]byte(hyphenated))
	if err != nil {
		t.Fatal(err)
	}
	f, problems, err := studio.Import(d)
	if err != nil || len(problems) != 0 {
		t.Fatalf("Import: %v, %v", problems, err)
	}
	f.ID, f.Name = "hyphens", "Hyphens"
	if f.StepByID("pain_q") == nil {
		t.Fatalf("no step pain_q: %+v", f.Steps)
	}
	_, _, csv := compareRuntimes(t, f, [][]string{{"ok"}, {"bad"}}, 4)
	if !strings.Contains(csv, "pain_q") || strings.Contains(csv, "pain-q") {
		t.Errorf("responses CSV:\n%s", csv)
	}
}

// TestDeployImportedIncomingMessage: a flow imported from a definition
// that starts on incomingMessage is deployed with incomingRequest wired
// to the same widget, since the Studio runtime starts executions there;
// the rest of the definition is deployed as it was.
func TestDeployImportedIncomingMessage(t *testing.T) {
	t.Parallel()
	in := strings.Replace(hyphenated, `{"event":"incomingMessage"},{"event":"incomingCall"},{"event":"incomingRequest","next":"pain-q"}`,
		`{"event":"incomingMessage","next":"pain-q"},{"event":"incomingCall"},{"event":"incomingRequest"}`, 1)
	d, err := studio.Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	f, problems, err := studio.Import(d)
	if err != nil || len(problems) != 1 || problems[0].Widget != "Trigger" {
		t.Fatalf("Import: %v, %v", problems, err)
	}
	f.ID = "texted"
	srv, dep := newDeployer(t, time.Minute)
	got, err := dep.Deploy(t.Context(), f, studio.DeployOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stored, ok := srv.Flow(got.SID)
	if !ok {
		t.Fatal("not deployed")
	}
	want := strings.Replace(in, `{"event":"incomingRequest"}`, `{"event":"incomingRequest","next":"pain-q"}`, 1)
	if !sameJSON(t, stored.Definition, []byte(want)) {
		t.Errorf("deployed %s\nwant %s", stored.Definition, want)
	}
}
