package twiliotest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"
	studio "github.com/twilio/twilio-go/rest/studio/v2"

	"github.com/patient-outreach/sms/outreach/twiliotest"
)

// studioDef is a small valid Studio definition: a REST API trigger that
// sends one message.
func studioDef(body string) map[string]any {
	return map[string]any{
		"description":   "A test flow",
		"flags":         map[string]any{"allow_concurrent_calls": true},
		"initial_state": "Trigger",
		"states": []any{
			map[string]any{
				"name": "Trigger", "type": "trigger",
				"properties": map[string]any{"offset": map[string]any{"x": 0, "y": 0}},
				"transitions": []any{
					map[string]any{"event": "incomingMessage"},
					map[string]any{"event": "incomingCall"},
					map[string]any{"event": "incomingRequest", "next": "greet"},
				},
			},
			map[string]any{
				"name": "greet", "type": "send-message",
				"properties": map[string]any{"body": body, "from": "{{flow.channel.address}}", "to": "{{contact.channel.address}}"},
				"transitions": []any{
					map[string]any{"event": "sent"},
					map[string]any{"event": "failed"},
				},
			},
		},
	}
}

// jsonEqual reports whether a and b marshal to the same JSON values.
func jsonEqual(t *testing.T, a, b any) bool {
	t.Helper()
	norm := func(v any) any {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var out any
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

func createFlow(t *testing.T, c *studio.ApiService, name, status string, def any) *studio.StudioV2Flow {
	t.Helper()
	p := &studio.CreateFlowParams{}
	p.SetFriendlyName(name).SetStatus(status).SetDefinition(def).SetCommitMessage("first")
	fl, err := c.CreateFlow(p)
	if err != nil {
		t.Fatalf("create flow %s: %v", name, err)
	}
	return fl
}

func TestStudioFlows(t *testing.T) {
	f := newFixture(t, twiliotest.Options{})
	c := f.srv.Client().StudioV2

	var sids []string
	for i, name := range []string{"Survey A", "Survey B", "Survey C"} {
		def := studioDef(fmt.Sprintf("Hello %d", i))
		fl := createFlow(t, c, name, "draft", def)
		if !strings.HasPrefix(*fl.Sid, "FW") || len(*fl.Sid) != 34 || *fl.FriendlyName != name || *fl.Status != "draft" ||
			fl.Revision != 1 || *fl.CommitMessage != "first" || !*fl.Valid || len(*fl.Errors) != 0 || len(*fl.Warnings) != 0 ||
			*fl.AccountSid != f.srv.AccountSID() || !fl.DateCreated.Equal(start) || !fl.DateUpdated.Equal(start) {
			t.Fatalf("created %+v", fl)
		}
		if !jsonEqual(t, *fl.Definition, def) {
			t.Fatalf("definition %v, want %v", *fl.Definition, def)
		}
		if *fl.Url != "https://studio.twilio.com/v2/Flows/"+*fl.Sid ||
			*fl.WebhookUrl != "https://webhooks.twilio.com/v1/Accounts/"+f.srv.AccountSID()+"/Flows/"+*fl.Sid ||
			(*fl.Links)["executions"] != *fl.Url+"/Executions" || (*fl.Links)["revisions"] != *fl.Url+"/Revisions" {
			t.Fatalf("urls %v %v %v", *fl.Url, *fl.WebhookUrl, *fl.Links)
		}
		sids = append(sids, *fl.Sid)
	}
	if len(f.srv.Flows()) != 3 {
		t.Fatalf("%d flows, want 3: one per create", len(f.srv.Flows()))
	}

	// Update: every update is a new revision; the definition is kept
	// when not given.
	f.clock.Advance(time.Minute)
	newDef := studioDef("Hello again")
	up := &studio.UpdateFlowParams{}
	up.SetStatus("published").SetDefinition(newDef).SetCommitMessage("second")
	fl, err := c.UpdateFlow(sids[0], up)
	if err != nil || fl.Revision != 2 || *fl.Status != "published" || *fl.CommitMessage != "second" ||
		*fl.FriendlyName != "Survey A" || !jsonEqual(t, *fl.Definition, newDef) ||
		!fl.DateCreated.Equal(start) || !fl.DateUpdated.Equal(start.Add(time.Minute)) {
		t.Fatalf("update: %+v, %v", fl, err)
	}
	up = &studio.UpdateFlowParams{}
	up.SetStatus("draft").SetFriendlyName("Survey A2")
	if fl, err = c.UpdateFlow(sids[0], up); err != nil || fl.Revision != 3 || *fl.Status != "draft" ||
		*fl.FriendlyName != "Survey A2" || !jsonEqual(t, *fl.Definition, newDef) || fl.CommitMessage != nil {
		t.Fatalf("update without definition: %+v, %v", fl, err)
	}
	_, err = c.UpdateFlow(sids[0], &studio.UpdateFlowParams{})
	restError(t, err, 400, 20001) // Status is required
	_, err = c.UpdateFlow("FW00000000000000000000000000000000", (&studio.UpdateFlowParams{}).SetStatus("draft"))
	restError(t, err, 404, 20404)

	// Fetch.
	if fl, err = c.FetchFlow(sids[0]); err != nil || fl.Revision != 3 || *fl.FriendlyName != "Survey A2" {
		t.Fatalf("fetch: %+v, %v", fl, err)
	}
	_, err = c.FetchFlow("FW00000000000000000000000000000000")
	restError(t, err, 404, 20404)

	// Revisions: newest first, by number, LatestPublished, LatestRevision.
	revs, err := c.ListFlowRevision(sids[0], &studio.ListFlowRevisionParams{PageSize: ptr(2)})
	if err != nil || len(revs) != 3 || revs[0].Revision != 3 || revs[2].Revision != 1 || *revs[2].Status != "draft" {
		t.Fatalf("revisions: %d, %v", len(revs), err)
	}
	for rev, want := range map[string]int{"1": 1, "2": 2, "LatestPublished": 2, "LatestRevision": 3} {
		r, err := c.FetchFlowRevision(sids[0], rev)
		if err != nil || r.Revision != want || *r.Url != "https://studio.twilio.com/v2/Flows/"+sids[0]+"/Revisions/"+fmt.Sprint(want) {
			t.Fatalf("revision %s: %+v, %v", rev, r, err)
		}
	}
	_, err = c.FetchFlowRevision(sids[0], "4")
	restError(t, err, 404, 20404)
	_, err = c.FetchFlowRevision(sids[1], "LatestPublished") // never published
	restError(t, err, 404, 20404)

	// List with paging through absolute studio.twilio.com links.
	all, err := c.ListFlow(&studio.ListFlowParams{PageSize: ptr(2)})
	if err != nil || len(all) != 3 {
		t.Fatalf("list: %d, %v", len(all), err)
	}
	for i, fl := range all {
		if *fl.Sid != sids[i] {
			t.Fatalf("flow %d is %s, want %s", i, *fl.Sid, sids[i])
		}
	}
	if n := f.srv.Requests(twiliotest.ListFlows); n != 2 {
		t.Fatalf("%d list requests, want 2", n)
	}
	page, err := c.PageFlow(&studio.ListFlowParams{PageSize: ptr(2)}, "", "")
	if err != nil || page.Meta.NextPageUrl == nil || !strings.HasPrefix(*page.Meta.NextPageUrl, "https://studio.twilio.com/v2/Flows?") ||
		page.Meta.Key != "flows" {
		t.Fatalf("page meta %+v, %v", page.Meta, err)
	}

	// Delete, then 404.
	if err := c.DeleteFlow(sids[1]); err != nil {
		t.Fatal(err)
	}
	_, err = c.FetchFlow(sids[1])
	restError(t, err, 404, 20404)
	restError(t, c.DeleteFlow(sids[1]), 404, 20404)
	if all, err = c.ListFlow(nil); err != nil || len(all) != 2 {
		t.Fatalf("list after delete: %d, %v", len(all), err)
	}

	// Bad creates.
	_, err = c.CreateFlow((&studio.CreateFlowParams{}).SetStatus("draft").SetDefinition(studioDef("x")))
	restError(t, err, 400, 20001) // FriendlyName is required
	_, err = c.CreateFlow((&studio.CreateFlowParams{}).SetFriendlyName("x").SetStatus("live").SetDefinition(studioDef("x")))
	restError(t, err, 400, 20001)
	_, err = c.CreateFlow((&studio.CreateFlowParams{}).SetFriendlyName("x").SetStatus("draft").SetDefinition(map[string]any{"states": []any{}}))
	restError(t, err, 400, 81022)
	if len(f.srv.Flows()) != 2 {
		t.Fatal("a refused create stored a flow")
	}
}

func TestStudioValidate(t *testing.T) {
	f := newFixture(t, twiliotest.Options{})
	c := f.srv.Client().StudioV2
	validate := func(def any) (*studio.StudioV2FlowValidate, error) {
		p := &studio.UpdateFlowValidateParams{}
		p.SetFriendlyName("Survey").SetStatus("published").SetDefinition(def)
		return c.UpdateFlowValidate(p)
	}
	v, err := validate(studioDef("Hi {{flow.data.first_name | upcase}}"))
	if err != nil || v.Valid == nil || !*v.Valid {
		t.Fatalf("validate: %+v, %v", v, err)
	}
	if len(f.srv.Flows()) != 0 {
		t.Fatal("validate created a flow")
	}

	broken := func(edit func(def map[string]any)) map[string]any {
		def := studioDef("x")
		edit(def)
		return def
	}
	state := func(def map[string]any, i int) map[string]any { return def["states"].([]any)[i].(map[string]any) }
	for name, tc := range map[string]struct {
		def  any
		path string
	}{
		"unknown next": {broken(func(d map[string]any) {
			state(d, 1)["transitions"] = []any{map[string]any{"event": "sent", "next": "nowhere"}}
		}), "#/states/1/transitions/0/next"},
		"duplicate name":      {broken(func(d map[string]any) { state(d, 1)["name"] = "Trigger" }), "#/states/1/name"},
		"no initial state":    {broken(func(d map[string]any) { delete(d, "initial_state") }), "#/initial_state"},
		"initial not trigger": {broken(func(d map[string]any) { d["initial_state"] = "greet" }), "#/initial_state"},
		"no states":           {map[string]any{"initial_state": "Trigger"}, "#/states"},
		"not an object":       {"{}", "#"},
		"no type":             {broken(func(d map[string]any) { delete(state(d, 1), "type") }), "#/states/1/type"},
		"condition type": {broken(func(d map[string]any) {
			state(d, 1)["type"] = "split-based-on"
			state(d, 1)["transitions"] = []any{map[string]any{"event": "match", "conditions": []any{
				map[string]any{"type": "greater_than", "value": "1"},
				map[string]any{"type": "is_between", "value": "1-10"},
			}}}
		}), "#/states/1/transitions/0/conditions/1/type"},
	} {
		_, err := validate(tc.def)
		restError(t, err, 400, 81022)
		var re *client.TwilioRestError
		errors.As(err, &re)
		errs, _ := re.Details["errors"].([]any)
		if len(errs) == 0 || errs[0].(map[string]any)["property_path"] != tc.path || errs[0].(map[string]any)["message"] == "" {
			t.Errorf("%s: details %v, want property_path %s", name, re.Details, tc.path)
		}
	}
	_, err = c.UpdateFlowValidate((&studio.UpdateFlowValidateParams{}).SetFriendlyName("x").SetDefinition(studioDef("x")))
	restError(t, err, 400, 20001) // Status is required
}

func createExecution(c *studio.ApiService, flowSid, to string, params any) (*studio.StudioV2Execution, error) {
	p := &studio.CreateExecutionParams{}
	p.SetTo(to).SetFrom(ours)
	if params != nil {
		p.SetParameters(params)
	}
	return c.CreateExecution(flowSid, p)
}

func TestStudioExecutions(t *testing.T) {
	f := newFixture(t, twiliotest.Options{})
	c := f.srv.Client().StudioV2
	fl := createFlow(t, c, "Survey", "published", studioDef("Hi {{flow.data.first_name}}"))
	flowSid := *fl.Sid

	var sids []string
	for i := range 5 {
		to := fmt.Sprintf("+1415555020%d", i)
		e, err := createExecution(c, flowSid, to, map[string]any{"first_name": fmt.Sprint("P", i), "age": i})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(*e.Sid, "FN") || len(*e.Sid) != 34 || *e.FlowSid != flowSid || *e.ContactChannelAddress != to ||
			*e.Status != "active" || *e.FlowVersion != 1 || !e.DateCreated.Equal(start.Add(time.Duration(i)*time.Minute)) ||
			*e.Url != "https://studio.twilio.com/v2/Flows/"+flowSid+"/Executions/"+*e.Sid ||
			(*e.Links)["steps"] != *e.Url+"/Steps" || (*e.Links)["execution_context"] != *e.Url+"/Context" {
			t.Fatalf("created %+v", e)
		}
		sids = append(sids, *e.Sid)
		f.clock.Advance(time.Minute)
	}

	// Fetch, and the context Studio gives a REST API trigger.
	e, err := c.FetchExecution(flowSid, sids[1])
	if err != nil || *e.ContactChannelAddress != "+14155550201" {
		t.Fatalf("fetch: %+v, %v", e, err)
	}
	ctx, err := c.FetchExecutionContext(flowSid, sids[1])
	if err != nil || *ctx.ExecutionSid != sids[1] || *ctx.FlowSid != flowSid ||
		*ctx.Url != "https://studio.twilio.com/v2/Flows/"+flowSid+"/Executions/"+sids[1]+"/Context" {
		t.Fatalf("context: %+v, %v", ctx, err)
	}
	want := map[string]any{
		"flow": map[string]any{
			"flow_sid": flowSid, "sid": sids[1], "channel": map[string]any{"address": ours},
			"data": map[string]any{"first_name": "P1", "age": 1}, "variables": map[string]any{},
		},
		"contact": map[string]any{"channel": map[string]any{"address": "+14155550201"}},
		"trigger": map[string]any{"request": map[string]any{"from": "+14155550201", "to": ours,
			"parameters": map[string]any{"first_name": "P1", "age": 1}}},
		"widgets": map[string]any{},
	}
	if !jsonEqual(t, *ctx.Context, want) || !jsonEqual(t, *e.Context, want) {
		t.Fatalf("context %v, want %v", *ctx.Context, want)
	}
	_, err = c.FetchExecution(flowSid, "FN00000000000000000000000000000000")
	restError(t, err, 404, 20404)

	// One active execution per contact and flow: 409.
	_, err = createExecution(c, flowSid, "+14155550202", nil)
	restError(t, err, 409, 20409)
	if !strings.Contains(err.Error(), sids[2]) || !strings.Contains(err.Error(), "already active for this contact") {
		t.Fatalf("conflict error %v", err)
	}
	// Another flow is no conflict.
	other := createFlow(t, c, "Other", "draft", studioDef("x"))
	if _, err := createExecution(c, *other.Sid, "+14155550202", nil); err != nil {
		t.Fatal(err)
	}

	// End it: then a new one may start.
	e, err = c.UpdateExecution(flowSid, sids[2], (&studio.UpdateExecutionParams{}).SetStatus("ended"))
	if err != nil || *e.Status != "ended" || !e.DateUpdated.Equal(f.clock.Now()) {
		t.Fatalf("end: %+v, %v", e, err)
	}
	_, err = c.UpdateExecution(flowSid, sids[2], (&studio.UpdateExecutionParams{}).SetStatus("active"))
	restError(t, err, 400, 20001)
	f.clock.Advance(time.Minute)
	again, err := createExecution(c, flowSid, "+14155550202", nil)
	if err != nil {
		t.Fatal(err)
	}
	sids = append(sids, *again.Sid)

	// List: newest first, paged, filtered by status and creation date.
	all, err := c.ListExecution(flowSid, &studio.ListExecutionParams{PageSize: ptr(2)})
	if err != nil || len(all) != 6 {
		t.Fatalf("list: %d, %v", len(all), err)
	}
	for i, e := range all {
		if *e.Sid != sids[5-i] {
			t.Fatalf("execution %d is %s, want %s", i, *e.Sid, sids[5-i])
		}
	}
	if n := f.srv.Requests(twiliotest.ListExecutions); n != 3 {
		t.Fatalf("%d list requests, want 3", n)
	}
	page, err := c.PageExecution(flowSid, &studio.ListExecutionParams{PageSize: ptr(2)}, "", "")
	if err != nil || page.Meta.NextPageUrl == nil ||
		!strings.HasPrefix(*page.Meta.NextPageUrl, "https://studio.twilio.com/v2/Flows/"+flowSid+"/Executions?") || page.Meta.Key != "executions" {
		t.Fatalf("page meta %+v, %v", page.Meta, err)
	}
	ended, err := c.ListExecution(flowSid, (&studio.ListExecutionParams{}).SetStatus("ended").SetPageSize(1))
	if err != nil || len(ended) != 1 || *ended[0].Sid != sids[2] {
		t.Fatalf("ended: %d, %v", len(ended), err)
	}
	active, err := c.ListExecution(flowSid, (&studio.ListExecutionParams{}).SetStatus("active").SetPageSize(2))
	if err != nil || len(active) != 5 {
		t.Fatalf("active: %d, %v", len(active), err)
	}
	window, err := c.ListExecution(flowSid, (&studio.ListExecutionParams{}).
		SetDateCreatedFrom(start.Add(time.Minute)).SetDateCreatedTo(start.Add(3*time.Minute)).SetPageSize(1))
	if err != nil || len(window) != 3 || *window[0].Sid != sids[3] || *window[2].Sid != sids[1] {
		t.Fatalf("date window: %d, %v", len(window), err)
	}
	// What a Studio runtime does on restart: page and match the contact.
	var found string
	for _, e := range all {
		if *e.ContactChannelAddress == "+14155550204" {
			found = *e.Sid
		}
	}
	if found != sids[4] {
		t.Fatalf("matched %s, want %s", found, sids[4])
	}

	// Delete, then 404; its steps and context go too.
	if err := c.DeleteExecution(flowSid, sids[0]); err != nil {
		t.Fatal(err)
	}
	_, err = c.FetchExecution(flowSid, sids[0])
	restError(t, err, 404, 20404)
	_, err = c.FetchExecutionContext(flowSid, sids[0])
	restError(t, err, 404, 20404)
	restError(t, c.DeleteExecution(flowSid, sids[0]), 404, 20404)
	// A deleted execution no longer blocks its contact.
	if _, err := createExecution(c, flowSid, "+14155550200", nil); err != nil {
		t.Fatal(err)
	}
	// An execution is reached through its own flow only.
	_, err = c.FetchExecution(*other.Sid, sids[1])
	restError(t, err, 404, 20404)

	// Bad creates.
	_, err = createExecution(c, "FW00000000000000000000000000000000", ann, nil)
	restError(t, err, 404, 20404)
	_, err = c.CreateExecution(flowSid, (&studio.CreateExecutionParams{}).SetFrom(ours))
	restError(t, err, 400, 20001)
	_, err = c.CreateExecution(flowSid, (&studio.CreateExecutionParams{}).SetTo(ann))
	restError(t, err, 400, 20001)
	_, err = createExecution(c, flowSid, ann, []int{1})
	restError(t, err, 400, 20001)

	// Deleting the flow deletes its executions.
	if err := c.DeleteFlow(flowSid); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.srv.Execution(sids[1]); ok {
		t.Fatal("execution outlived its flow")
	}
	_, err = c.ListExecution(flowSid, nil)
	restError(t, err, 404, 20404)
}

func TestStudioExecutionWithoutRunnerStaysActive(t *testing.T) {
	f := newFixture(t, twiliotest.Options{})
	c := f.srv.Client().StudioV2
	fl := createFlow(t, c, "Survey", "published", studioDef("x"))
	e, err := createExecution(c, *fl.Sid, ann, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(24 * time.Hour)
	if e, err = c.FetchExecution(*fl.Sid, *e.Sid); err != nil || *e.Status != "active" {
		t.Fatalf("%+v, %v", e, err)
	}
	steps, err := c.ListExecutionStep(*fl.Sid, *e.Sid, nil)
	if err != nil || len(steps) != 0 {
		t.Fatalf("steps: %d, %v", len(steps), err)
	}
}

// fakeRunner is an ExecutionRunner that records what it is given and
// plays two steps.
type fakeRunner struct {
	mu    sync.Mutex
	got   []twiliotest.Execution
	fail  string // contact whose execution fails to start
	endIt bool
}

func (r *fakeRunner) StartExecution(ctx context.Context, srv *twiliotest.Server, e twiliotest.Execution) error {
	r.mu.Lock()
	r.got = append(r.got, e)
	fail, endIt := r.fail, r.endIt
	r.mu.Unlock()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if e.ContactChannelAddress == fail {
		return errors.New("widget greet: cannot run")
	}
	// The runner may use the API during the call: no lock is held.
	if _, ok := srv.Execution(e.SID); !ok {
		return errors.New("execution not stored before StartExecution")
	}
	if _, err := srv.AddExecutionStep(e.SID, twiliotest.ExecutionStep{
		Name: "Incoming Request", TransitionedFrom: "Trigger", TransitionedTo: "greet", Type: "trigger",
		Context: map[string]any{"flow": map[string]any{"data": e.Parameters}},
	}); err != nil {
		return err
	}
	if _, err := srv.AddExecutionStep(e.SID, twiliotest.ExecutionStep{
		Name: "sent", TransitionedFrom: "greet", TransitionedTo: "Ended", Type: "send-message",
		Context: map[string]any{"widgets": map[string]any{"greet": map[string]any{"status": "sent", "body": "Hi"}}},
	}); err != nil {
		return err
	}
	return srv.UpdateExecution(e.SID, func(x *twiliotest.Execution) {
		x.Context["widgets"] = map[string]any{"greet": map[string]any{"status": "sent", "body": "Hi"}}
		if endIt {
			x.Status = "ended"
		}
	})
}

func TestStudioExecutionRunner(t *testing.T) {
	runner := &fakeRunner{fail: bob, endIt: true}
	f := newFixture(t, twiliotest.Options{Studio: runner})
	c := f.srv.Client().StudioV2
	def := studioDef("Hi")
	fl := createFlow(t, c, "Survey", "published", def)
	// A draft after publishing: executions run the published revision.
	if _, err := c.UpdateFlow(*fl.Sid, (&studio.UpdateFlowParams{}).SetStatus("draft").SetDefinition(studioDef("Draft"))); err != nil {
		t.Fatal(err)
	}

	e, err := createExecution(c, *fl.Sid, ann, map[string]any{"first_name": "Ann"})
	if err != nil {
		t.Fatal(err)
	}
	// The create answer shows the execution as the runner left it.
	if *e.Status != "ended" || *e.FlowVersion != 1 {
		t.Fatalf("created %+v", e)
	}
	runner.mu.Lock()
	got := runner.got
	runner.mu.Unlock()
	if len(got) != 1 || got[0].SID != *e.Sid || got[0].FlowSID != *fl.Sid || got[0].ContactChannelAddress != ann ||
		got[0].From != ours || got[0].Parameters["first_name"] != "Ann" || got[0].Status != "active" ||
		got[0].FlowVersion != 1 || !jsonEqual(t, got[0].Definition, def) {
		t.Fatalf("runner got %+v", got)
	}

	ctx, err := c.FetchExecutionContext(*fl.Sid, *e.Sid)
	if err != nil {
		t.Fatal(err)
	}
	widgets := (*ctx.Context).(map[string]any)["widgets"].(map[string]any)
	if widgets["greet"].(map[string]any)["status"] != "sent" {
		t.Fatalf("context %v", *ctx.Context)
	}

	steps, err := c.ListExecutionStep(*fl.Sid, *e.Sid, &studio.ListExecutionStepParams{PageSize: ptr(1)})
	if err != nil || len(steps) != 2 {
		t.Fatalf("steps: %d, %v", len(steps), err)
	}
	if n := f.srv.Requests(twiliotest.ListExecutionSteps); n != 2 {
		t.Fatalf("%d step list requests, want 2", n)
	}
	st := steps[1]
	if !strings.HasPrefix(*st.Sid, "FT") || len(*st.Sid) != 34 || *st.Name != "sent" || *st.TransitionedFrom != "greet" ||
		*st.TransitionedTo != "Ended" || *st.Type != "send-message" || *st.ExecutionSid != *e.Sid || *st.FlowSid != *fl.Sid ||
		*steps[0].TransitionedFrom != "Trigger" {
		t.Fatalf("steps %+v", steps)
	}
	one, err := c.FetchExecutionStep(*fl.Sid, *e.Sid, *st.Sid)
	if err != nil || *one.Sid != *st.Sid || !jsonEqual(t, *one.Context, *st.Context) {
		t.Fatalf("fetch step: %+v, %v", one, err)
	}
	sc, err := c.FetchExecutionStepContext(*fl.Sid, *e.Sid, *st.Sid)
	if err != nil || *sc.StepSid != *st.Sid || *sc.ExecutionSid != *e.Sid ||
		!jsonEqual(t, *sc.Context, map[string]any{"widgets": map[string]any{"greet": map[string]any{"status": "sent", "body": "Hi"}}}) {
		t.Fatalf("step context: %+v, %v", sc, err)
	}
	_, err = c.FetchExecutionStep(*fl.Sid, *e.Sid, "FT00000000000000000000000000000000")
	restError(t, err, 404, 20404)
	if got := f.srv.ExecutionSteps(*e.Sid); len(got) != 2 || got[1].SID != *st.Sid {
		t.Fatalf("ExecutionSteps %+v", got)
	}

	// A runner error ends the execution; the create still succeeds.
	e, err = createExecution(c, *fl.Sid, bob, nil)
	if err != nil || *e.Status != "ended" {
		t.Fatalf("failing start: %+v, %v", e, err)
	}
	if x, _ := f.srv.Execution(*e.Sid); x.RunError != "widget greet: cannot run" {
		t.Fatalf("run error %q", x.RunError)
	}

	// The server's methods refuse what cannot be stored.
	if err := f.srv.UpdateExecution("FN00000000000000000000000000000000", func(*twiliotest.Execution) {}); !errors.Is(err, twiliotest.ErrNoExecution) {
		t.Fatalf("update unknown: %v", err)
	}
	if err := f.srv.UpdateExecution(*e.Sid, func(x *twiliotest.Execution) { x.Status = "done" }); err == nil {
		t.Fatal("status done accepted")
	}
	if err := f.srv.UpdateExecution(*e.Sid, func(x *twiliotest.Execution) { x.Context["f"] = func() {} }); err == nil {
		t.Fatal("unmarshalable context accepted")
	}
	if _, err := f.srv.AddExecutionStep("FN00000000000000000000000000000000", twiliotest.ExecutionStep{}); !errors.Is(err, twiliotest.ErrNoExecution) {
		t.Fatalf("step on unknown: %v", err)
	}

	// Replaced runner: executions stay active.
	f.srv.SetExecutionRunner(nil)
	if e, err = createExecution(c, *fl.Sid, nobody, nil); err != nil || *e.Status != "active" {
		t.Fatalf("without runner: %+v, %v", e, err)
	}
}

func TestStudioConcurrentCreatesOneActive(t *testing.T) {
	f := newFixture(t, twiliotest.Options{})
	c := f.srv.Client().StudioV2
	fl := createFlow(t, c, "Survey", "published", studioDef("x"))
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		ok, confl int
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := createExecution(f.srv.Client().StudioV2, *fl.Sid, ann, nil)
			var re *client.TwilioRestError
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.As(err, &re) && re.Code == 20409:
				confl++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok != 1 || confl != 7 || len(f.srv.Executions(*fl.Sid)) != 1 {
		t.Fatalf("%d created, %d conflicts, %d stored", ok, confl, len(f.srv.Executions(*fl.Sid)))
	}
}

func TestStudioFault429(t *testing.T) {
	f := newFixture(t, twiliotest.Options{})
	c := f.srv.Client().StudioV2
	fl := createFlow(t, c, "Survey", "published", studioDef("x"))
	f.srv.SetFault(twiliotest.CreateExecution, twiliotest.Fault{Status: 429, Times: 1})
	_, err := createExecution(c, *fl.Sid, ann, nil)
	restError(t, err, 429, 20429)
	if len(f.srv.Executions(*fl.Sid)) != 0 {
		t.Fatal("a 429 stored an execution")
	}
	if _, err := createExecution(c, *fl.Sid, ann, nil); err != nil {
		t.Fatal(err)
	}
	if n := f.srv.Requests(twiliotest.CreateExecution); n != 2 {
		t.Fatalf("%d create requests, want 2", n)
	}
}
