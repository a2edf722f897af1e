package twiliotest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/patient-outreach/sms/studio/schema"
)

// The Studio v2 REST surface (https://studio.twilio.com/v2): flows with
// their revisions, FlowValidate, executions with their context and steps.
// Flow definitions are checked with package studio/schema, as Studio
// checks them, and stored compacted; running executions is left to an
// [ExecutionRunner].

const studioBase = "https://studio.twilio.com/v2/Flows"

// Flow is a revision of a Studio flow held by the fake: the latest one
// for [Server.Flow] and [Server.Flows].
type Flow struct {
	SID          string
	FriendlyName string
	// Status is "draft" or "published": the status the revision was saved
	// with.
	Status        string
	CommitMessage string
	// Definition is the flow's JSON definition, compacted.
	Definition json.RawMessage
	// Revision numbers the flow's revisions from 1; every update makes a
	// new one.
	Revision    int
	DateCreated time.Time // when the flow was created
	DateUpdated time.Time // when this revision was saved
}

// Execution is a Studio execution held by the fake.
type Execution struct {
	SID     string // "FN" and 32 hex digits
	FlowSID string
	// FlowVersion is the flow revision the execution runs: the latest
	// published revision when the execution was created, or the latest
	// revision if none was ever published.
	FlowVersion int
	// Definition is the definition of revision FlowVersion, for the
	// runner to interpret.
	Definition json.RawMessage
	// ContactChannelAddress is the To of the execution: the contact.
	ContactChannelAddress string
	// From is the address the flow sends from (flow.channel.address).
	From string
	// Parameters are the Parameters given at creation (flow.data).
	Parameters map[string]any
	// Context is the execution context as served by the Context endpoint.
	// The fake starts it as Studio's REST API trigger does:
	//
	//	{"flow": {"flow_sid", "sid", "channel": {"address": From}, "data": Parameters, "variables": {}},
	//	 "contact": {"channel": {"address": To}},
	//	 "trigger": {"request": {"from": To, "to": From, "parameters": Parameters}},
	//	 "widgets": {}}
	Context map[string]any
	// Status is "active" or "ended".
	Status string
	// RunError is the error the [ExecutionRunner] returned when starting
	// the execution, if any (the execution is then ended), or one the
	// runner stored later with [Server.UpdateExecution].
	RunError    string
	DateCreated time.Time
	DateUpdated time.Time
}

// ExecutionStep is a step of an execution: a transition from one widget
// to the next.
type ExecutionStep struct {
	SID string // "FT" and 32 hex digits; set by [Server.AddExecutionStep]
	// Name is the event that caused the transition, such as
	// "incomingMessage" or "Incoming Request".
	Name             string
	TransitionedFrom string // the widget left, such as "Trigger"
	TransitionedTo   string // the widget entered, or "Ended"
	// Type is the type of the widget executed, such as "send-message".
	Type string
	// Context is the step's context (the widget's variables), as served
	// by the step Context endpoint.
	Context     map[string]any
	DateCreated time.Time // set by [Server.AddExecutionStep]
	DateUpdated time.Time // set by [Server.AddExecutionStep]
}

// ExecutionRunner runs the Studio executions created through the fake's
// REST API. The studio package implements it by interpreting the flow's
// definition (this package does not depend on it); set it with
// Options.Studio or [Server.SetExecutionRunner].
//
// The fake calls StartExecution after storing a new active execution and
// before answering the create request, with no lock held, so the runner
// may call the fake's API and the methods of srv. ctx is the create
// request's context: it ends with the request, so work that outlives the
// call (waiting for replies, timeouts) must not use it: time it with
// [Server.AfterFunc] on the server's clock, and take replies by
// implementing [ReplyRunner]. The runner
// reports progress with [Server.UpdateExecution] (status "ended",
// context) and [Server.AddExecutionStep]; the create request answers with
// the execution as it stands when StartExecution returns. An error ends
// the execution and is kept in [Execution.RunError]; the create request
// still succeeds, as Twilio's does when a flow fails at run time.
//
// Without a runner, executions stay active until they are ended through
// the API (Executions update with Status=ended) or deleted.
type ExecutionRunner interface {
	StartExecution(ctx context.Context, srv *Server, e Execution) error
}

// ReplyRunner is an [ExecutionRunner] that also takes the replies to its
// executions, as Studio does when a number's incoming-message URL is a
// flow's webhook. When a phone texts a provisioned number whose
// incoming-message URL (its SmsUrl, or the InboundRequestUrl of the
// Messaging Service whose sender pool holds it, when set and
// UseInboundWebhookOnNumber is false) is exactly the webhook of a flow
// the fake holds,
//
//	https://webhooks.twilio.com/v1/Accounts/{AccountSid}/Flows/{FlowSid}
//
// (the webhook_url of the flow resource, which studio.Deployer.PointNumber
// and PointMessagingService set), [Server.Step] records the text as an inbound message, as it
// always does, but POSTs it nowhere: it finds the flow's active execution
// whose ContactChannelAddress is the text's From and, if the runner
// implements ReplyRunner, calls ExecutionReply with a copy of that
// execution and the inbound message, with no lock held and Step's
// context. An error goes where webhook errors go: Step's joined error, or
// Options.OnWebhookError under [Server.Run].
//
// A text with no active execution for its sender starts one, as in
// Studio: an active execution of the flow's published revision (latest,
// if none was published), whose contact is the sender and whose From is
// the number texted, with the text's variables as trigger.message (Body,
// From, To, MessageSid, SmsMessageSid, SmsSid, SmsStatus, AccountSid,
// NumMedia, ApiVersion), no trigger.request and an empty flow.data; the
// runner's StartExecution is called with it (it starts from the
// trigger's incomingMessage transition) with no lock held, and an error
// ends it, as for executions created through the API. An incoming-message URL on
// webhooks.twilio.com that is not the webhook of a flow the fake holds is
// an error from Step; nothing is ever sent to the real host.
type ReplyRunner interface {
	ExecutionRunner
	ExecutionReply(ctx context.Context, srv *Server, e Execution, m Message) error
}

// ErrNoExecution is returned by [Server.UpdateExecution] and
// [Server.AddExecutionStep] for an unknown execution SID.
var ErrNoExecution = errors.New("twiliotest: no such execution")

type studioState struct {
	flows   []*flow // in creation order
	execs   map[string]*execution
	runner  ExecutionRunner
	creates []time.Time // when recent creates were let through, for Options.ExecutionsPerSecond
}

type flow struct {
	revisions []Flow // revisions[i].Revision == i+1
	execs     []*execution
}

func (f *flow) latest() *Flow { return &f.revisions[len(f.revisions)-1] }

type execution struct {
	Execution
	steps []*ExecutionStep
}

// SetExecutionRunner sets (or, with nil, removes) the runner of new
// executions, replacing Options.Studio.
func (s *Server) SetExecutionRunner(r ExecutionRunner) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.studio.runner = r
}

// Flow returns the latest revision of the flow with this SID.
func (s *Server) Flow(sid string) (Flow, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.flow(sid)
	if f == nil {
		return Flow{}, false
	}
	return cloneFlow(*f.latest()), true
}

// Flows returns the latest revision of every flow, in creation order.
func (s *Server) Flows() []Flow {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Flow, len(s.studio.flows))
	for i, f := range s.studio.flows {
		out[i] = cloneFlow(*f.latest())
	}
	return out
}

// Execution returns the execution with this SID.
func (s *Server) Execution(sid string) (Execution, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.studio.execs[sid]
	if e == nil {
		return Execution{}, false
	}
	return cloneExecution(e.Execution), true
}

// Executions returns the executions of a flow, in creation order.
func (s *Server) Executions(flowSID string) []Execution {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.flow(flowSID)
	if f == nil {
		return nil
	}
	out := make([]Execution, len(f.execs))
	for i, e := range f.execs {
		out[i] = cloneExecution(e.Execution)
	}
	return out
}

// ExecutionSteps returns the steps of an execution, oldest first.
func (s *Server) ExecutionSteps(executionSID string) []ExecutionStep {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.studio.execs[executionSID]
	if e == nil {
		return nil
	}
	out := make([]ExecutionStep, len(e.steps))
	for i, st := range e.steps {
		out[i] = *st
		out[i].Context = cloneMap(st.Context)
	}
	return out
}

// UpdateExecution calls fn with a copy of the execution and stores what
// fn leaves in it (its SID, flow, flow version, definition and creation
// date cannot change), dating the change with the server's clock. fn runs
// with the server locked: it must not call the server. Status must stay
// "active" or "ended", and Context must marshal to JSON.
func (s *Server) UpdateExecution(sid string, fn func(*Execution)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.studio.execs[sid]
	if e == nil {
		return fmt.Errorf("%w: %s", ErrNoExecution, sid)
	}
	c := cloneExecution(e.Execution)
	fn(&c)
	if c.Status != "active" && c.Status != "ended" {
		return fmt.Errorf("twiliotest: execution status %q: want active or ended", c.Status)
	}
	ctx, err := normalize(c.Context)
	if err != nil {
		return fmt.Errorf("twiliotest: execution context: %w", err)
	}
	params, err := normalize(c.Parameters)
	if err != nil {
		return fmt.Errorf("twiliotest: execution parameters: %w", err)
	}
	c.Context, c.Parameters = ctx, params
	c.SID, c.FlowSID, c.FlowVersion, c.DateCreated = e.SID, e.FlowSID, e.FlowVersion, e.DateCreated
	c.Definition = e.Definition
	c.DateUpdated = s.clock.Now()
	e.Execution = c
	return nil
}

// AddExecutionStep appends a step to an execution, giving it a new SID
// and the server clock's time, and returns it as stored. Context must
// marshal to JSON.
func (s *Server) AddExecutionStep(executionSID string, st ExecutionStep) (ExecutionStep, error) {
	ctx, err := normalize(st.Context)
	if err != nil {
		return ExecutionStep{}, fmt.Errorf("twiliotest: step context: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.studio.execs[executionSID]
	if e == nil {
		return ExecutionStep{}, fmt.Errorf("%w: %s", ErrNoExecution, executionSID)
	}
	now := s.clock.Now()
	st.SID, st.Context, st.DateCreated, st.DateUpdated = s.sid("FT"), ctx, now, now
	if st.Context == nil {
		st.Context = map[string]any{}
	}
	stored := st
	e.steps = append(e.steps, &stored)
	st.Context = cloneMap(ctx)
	return st, nil
}

// flow returns the flow with this SID. Called with s.mu held.
func (s *Server) flow(sid string) *flow {
	for _, f := range s.studio.flows {
		if f.revisions[0].SID == sid {
			return f
		}
	}
	return nil
}

func cloneFlow(f Flow) Flow {
	f.Definition = bytes.Clone(f.Definition)
	return f
}

func cloneExecution(e Execution) Execution {
	e.Definition = bytes.Clone(e.Definition)
	e.Parameters = cloneMap(e.Parameters)
	e.Context = cloneMap(e.Context)
	return e
}

// cloneMap deep-copies a map that holds only JSON values (as normalize
// leaves them).
func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	return cloneValue(m).(map[string]any)
}

func cloneValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = cloneValue(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = cloneValue(x)
		}
		return out
	}
	return v
}

// normalize turns m into plain JSON values (maps, slices, strings,
// float64s, bools, nils) by a JSON round trip, so that it can be copied
// and served.
func normalize(m map[string]any) (map[string]any, error) {
	if m == nil {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// v2Meta is the meta object of a v2 list, with absolute URLs.
func v2Meta[T any](pg page[T], key string) map[string]any {
	return map[string]any{
		"page": pg.meta["page"], "page_size": pg.meta["page_size"],
		"first_page_url": pg.meta["first_page_uri"], "previous_page_url": pg.meta["previous_page_uri"],
		"url": pg.meta["uri"], "next_page_url": pg.meta["next_page_uri"], "key": key,
	}
}

// writeV2Page writes the page of items r asks for, as Twilio's v2 APIs
// (Studio, Verify) list them: the items under key, and a meta object with
// absolute page URLs.
func writeV2Page[T any](w http.ResponseWriter, r *http.Request, path, key string, items []T, sidOf func(T) string, toJSON func(T) map[string]any) {
	pg, err := paginate(r, path, items, sidOf)
	if err != nil {
		writeError(w, http.StatusBadRequest, 20001, err.Error())
		return
	}
	out := make([]map[string]any, len(pg.items))
	for i, it := range pg.items {
		out[i] = toJSON(it)
	}
	writeJSON(w, http.StatusOK, map[string]any{key: out, "meta": v2Meta(pg, key)})
}

// validateDefinition checks a flow definition as Studio's Flows API
// does, with [schema.Validate]: against Twilio's flow-definition schema
// and a schema per widget type (required properties, property types,
// transition events, split condition types), then for unique widget
// names, transitions to existing widgets and an initial_state naming the
// trigger. It returns the definition compacted, or the problems found.
func validateDefinition(raw string) (json.RawMessage, []schema.Problem) {
	if err := schema.Validate([]byte(raw)); err != nil {
		var e *schema.Error
		if errors.As(err, &e) {
			return nil, e.Problems
		}
		// The embedded schemas did not compile: a bug, not the
		// caller's definition; say so rather than accept it.
		return nil, []schema.Problem{{Message: err.Error(), PropertyPath: "#"}}
	}
	var buf bytes.Buffer
	_ = json.Compact(&buf, []byte(raw))
	return buf.Bytes(), nil
}

// writeDefinitionError answers a failed validation as Twilio does: 400,
// code 81022 "Flow definition validation failed", the failures in
// details.errors.
func writeDefinitionError(w http.ResponseWriter, errs []schema.Problem) {
	const code = schema.Code
	writeJSON(w, http.StatusBadRequest, map[string]any{
		"code":      code,
		"message":   "Flow definition validation failed",
		"more_info": "https://www.twilio.com/docs/errors/" + strconv.Itoa(code),
		"status":    http.StatusBadRequest,
		"details":   map[string]any{"errors": errs},
	})
}

func missing(w http.ResponseWriter, param string) {
	writeError(w, http.StatusBadRequest, 20001, "Missing required parameter "+param+" in the post body")
}

// flowForm reads the parameters shared by Flow create, update and
// validate. It answers the request and returns false when they are
// wrong. Status is required; FriendlyName and Definition when create.
func flowForm(w http.ResponseWriter, r *http.Request, create bool) (name, status string, def json.RawMessage, ok bool) {
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, 20001, "Invalid request body")
		return "", "", nil, false
	}
	f := r.PostForm
	name, status = f.Get("FriendlyName"), f.Get("Status")
	switch {
	case create && name == "":
		missing(w, "FriendlyName")
		return "", "", nil, false
	case status == "":
		missing(w, "Status")
		return "", "", nil, false
	case status != "draft" && status != "published":
		writeError(w, http.StatusBadRequest, 20001, "Invalid Status: must be draft or published")
		return "", "", nil, false
	case create && !f.Has("Definition"):
		missing(w, "Definition")
		return "", "", nil, false
	}
	if f.Has("Definition") {
		d, errs := validateDefinition(f.Get("Definition"))
		if errs != nil {
			writeDefinitionError(w, errs)
			return "", "", nil, false
		}
		def = d
	}
	return name, status, def, true
}

func (s *Server) flowJSON(f Flow) map[string]any {
	u := studioBase + "/" + f.SID
	return map[string]any{
		"sid": f.SID, "account_sid": s.accountSID, "author_sid": nil,
		"friendly_name": f.FriendlyName, "definition": f.Definition, "status": f.Status,
		"revision": f.Revision, "commit_message": nullable(f.CommitMessage),
		"valid": true, "errors": []any{}, "warnings": []any{},
		"date_created": iso(f.DateCreated), "date_updated": iso(f.DateUpdated),
		"webhook_url": "https://webhooks.twilio.com/v1/Accounts/" + s.accountSID + "/Flows/" + f.SID,
		"url":         u,
		"links": map[string]string{
			"test_users": u + "/TestUsers",
			"revisions":  u + "/Revisions",
			"executions": u + "/Executions",
		},
	}
}

func (s *Server) revisionJSON(f Flow) map[string]any {
	return map[string]any{
		"sid": f.SID, "account_sid": s.accountSID, "author_sid": nil,
		"friendly_name": f.FriendlyName, "definition": f.Definition, "status": f.Status,
		"revision": f.Revision, "commit_message": nullable(f.CommitMessage),
		"valid": true, "errors": []any{},
		"date_created": iso(f.DateCreated), "date_updated": iso(f.DateUpdated),
		"url": studioBase + "/" + f.SID + "/Revisions/" + strconv.Itoa(f.Revision),
	}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (s *Server) createFlow(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	name, status, def, ok := flowForm(w, r, true)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	f := &flow{revisions: []Flow{{
		SID: s.sid("FW"), FriendlyName: name, Status: status, CommitMessage: r.PostForm.Get("CommitMessage"),
		Definition: def, Revision: 1, DateCreated: now, DateUpdated: now,
	}}}
	s.studio.flows = append(s.studio.flows, f)
	writeJSON(w, http.StatusCreated, s.flowJSON(*f.latest()))
}

func (s *Server) updateFlow(w http.ResponseWriter, r *http.Request, p map[string]string) {
	name, status, def, ok := flowForm(w, r, false)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.flow(p["sid"])
	if f == nil {
		notFound(w, r)
		return
	}
	rev := cloneFlow(*f.latest())
	rev.Revision++
	rev.Status = status
	rev.CommitMessage = r.PostForm.Get("CommitMessage")
	rev.DateUpdated = s.clock.Now()
	if name != "" {
		rev.FriendlyName = name
	}
	if def != nil {
		rev.Definition = def
	}
	f.revisions = append(f.revisions, rev)
	writeJSON(w, http.StatusOK, s.flowJSON(rev))
}

func (s *Server) fetchFlow(w http.ResponseWriter, r *http.Request, p map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.flow(p["sid"])
	if f == nil {
		notFound(w, r)
		return
	}
	writeJSON(w, http.StatusOK, s.flowJSON(*f.latest()))
}

func (s *Server) listFlows(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	writeV2Page(w, r, studioBase, "flows", s.studio.flows,
		func(f *flow) string { return f.revisions[0].SID },
		func(f *flow) map[string]any { return s.flowJSON(*f.latest()) })
}

func (s *Server) deleteFlow(w http.ResponseWriter, r *http.Request, p map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.studio.flows {
		if f.revisions[0].SID == p["sid"] {
			for _, e := range f.execs {
				delete(s.studio.execs, e.SID)
			}
			s.studio.flows = append(s.studio.flows[:i:i], s.studio.flows[i+1:]...)
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	notFound(w, r)
}

func (s *Server) listFlowRevisions(w http.ResponseWriter, r *http.Request, p map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.flow(p["sid"])
	if f == nil {
		notFound(w, r)
		return
	}
	revs := make([]Flow, len(f.revisions)) // newest first
	for i, rev := range f.revisions {
		revs[len(revs)-1-i] = rev
	}
	writeV2Page(w, r, studioBase+"/"+p["sid"]+"/Revisions", "revisions", revs,
		func(f Flow) string { return strconv.Itoa(f.Revision) }, s.revisionJSON)
}

// fetchFlowRevision serves a revision by number, or "LatestPublished" or
// "LatestRevision".
func (s *Server) fetchFlowRevision(w http.ResponseWriter, r *http.Request, p map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.flow(p["sid"])
	if f == nil {
		notFound(w, r)
		return
	}
	var rev *Flow
	switch p["rev"] {
	case "LatestRevision":
		rev = f.latest()
	case "LatestPublished":
		rev = f.published()
	default:
		if n, err := strconv.Atoi(p["rev"]); err == nil && n >= 1 && n <= len(f.revisions) {
			rev = &f.revisions[n-1]
		}
	}
	if rev == nil {
		notFound(w, r)
		return
	}
	writeJSON(w, http.StatusOK, s.revisionJSON(*rev))
}

// published returns the latest published revision, or nil.
func (f *flow) published() *Flow {
	for i := len(f.revisions) - 1; i >= 0; i-- {
		if f.revisions[i].Status == "published" {
			return &f.revisions[i]
		}
	}
	return nil
}

// validateFlow serves FlowValidate: the parameters of a flow create,
// checked and not stored. A valid definition answers {"valid": true}; an
// invalid one the 81022 error that create would answer.
func (s *Server) validateFlow(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	if _, _, _, ok := flowForm(w, r, true); !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"valid": true})
}

func (s *Server) executionJSON(e *execution) map[string]any {
	u := studioBase + "/" + e.FlowSID + "/Executions/" + e.SID
	ctx := e.Context
	if ctx == nil {
		ctx = map[string]any{}
	}
	return map[string]any{
		"sid": e.SID, "account_sid": s.accountSID, "flow_sid": e.FlowSID,
		"contact_channel_address": e.ContactChannelAddress, "contact_sid": nil,
		"flow_version": e.FlowVersion, "context": ctx, "status": e.Status,
		"date_created": iso(e.DateCreated), "date_updated": iso(e.DateUpdated),
		"initiated_by": nil, "url": u,
		"links": map[string]string{"steps": u + "/Steps", "execution_context": u + "/Context"},
	}
}

func (s *Server) stepJSON(e *execution, st *ExecutionStep) map[string]any {
	u := studioBase + "/" + e.FlowSID + "/Executions/" + e.SID + "/Steps/" + st.SID
	ctx := st.Context
	if ctx == nil {
		ctx = map[string]any{}
	}
	return map[string]any{
		"sid": st.SID, "account_sid": s.accountSID, "flow_sid": e.FlowSID,
		"execution_sid": e.SID, "parent_step_sid": nil, "name": st.Name, "context": ctx,
		"transitioned_from": st.TransitionedFrom, "transitioned_to": st.TransitionedTo,
		"type":         nullable(st.Type),
		"date_created": iso(st.DateCreated), "date_updated": iso(st.DateUpdated),
		"url": u, "links": map[string]string{"step_context": u + "/Context"},
	}
}

// execution returns the execution sid of flow flowSID. Called with s.mu
// held.
func (s *Server) execution(flowSID, sid string) *execution {
	e := s.studio.execs[sid]
	if e == nil || e.FlowSID != flowSID {
		return nil
	}
	return e
}

func (s *Server) createExecution(w http.ResponseWriter, r *http.Request, p map[string]string) {
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, 20001, "Invalid request body")
		return
	}
	to, from := r.PostForm.Get("To"), r.PostForm.Get("From")
	switch {
	case to == "":
		missing(w, "To")
		return
	case from == "":
		missing(w, "From")
		return
	}
	if !s.admitExecution() {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, 20429, "Too Many Requests: the Execution create rate limit was exceeded")
		return
	}
	var params map[string]any
	if v := r.PostForm.Get("Parameters"); v != "" {
		if err := json.Unmarshal([]byte(v), &params); err != nil || params == nil {
			writeError(w, http.StatusBadRequest, 20001, "Invalid Parameters: must be a JSON object")
			return
		}
	}

	s.mu.Lock()
	f := s.flow(p["flow"])
	if f == nil {
		s.mu.Unlock()
		notFound(w, r)
		return
	}
	for _, e := range f.execs {
		if e.ContactChannelAddress == to && e.Status == "active" {
			s.mu.Unlock()
			writeError(w, http.StatusConflict, 20409, "Execution "+e.SID+" is already active for this contact. End the active Execution before creating a new one")
			return
		}
	}
	e := s.newExecution(f, to, from, params, nil)
	runner := s.studio.runner
	snapshot := cloneExecution(e.Execution)
	s.mu.Unlock()

	if runner != nil {
		// The execution runs whatever becomes of the request: a client
		// that goes away (killed, or timed out) once it is created must
		// not make its first message fail, as it never does at Twilio.
		_ = s.startExecution(context.WithoutCancel(r.Context()), runner, snapshot)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, http.StatusCreated, s.executionJSON(e)) // as the runner left it
}

// newExecution creates an active execution of f's published revision (or
// latest, if none was published) for contact to, sending from from, with
// the context Studio builds: for a REST API execution (message nil),
// Parameters as flow.data and trigger.request; for one a text started,
// trigger.message (the text's variables) and no flow.data. Called with
// s.mu held.
func (s *Server) newExecution(f *flow, to, from string, params map[string]any, message map[string]any) *execution {
	rev := f.published()
	if rev == nil {
		rev = f.latest()
	}
	now := s.clock.Now()
	sid := s.sid("FN")
	e := &execution{Execution: Execution{
		SID: sid, FlowSID: rev.SID, FlowVersion: rev.Revision, Definition: rev.Definition,
		ContactChannelAddress: to, From: from, Parameters: params, Status: "active",
		DateCreated: now, DateUpdated: now,
	}}
	data := cloneMap(params)
	if data == nil {
		data = map[string]any{}
	}
	trigger := map[string]any{"request": map[string]any{"from": to, "to": from, "parameters": cloneMap(data)}}
	if message != nil {
		trigger = map[string]any{"message": message}
	}
	e.Context = map[string]any{
		"flow": map[string]any{
			"flow_sid": rev.SID, "sid": sid, "channel": map[string]any{"address": from},
			"data": data, "variables": map[string]any{},
		},
		"contact": map[string]any{"channel": map[string]any{"address": to}},
		"trigger": trigger,
		"widgets": map[string]any{},
	}
	if s.studio.execs == nil {
		s.studio.execs = make(map[string]*execution)
	}
	s.studio.execs[sid] = e
	f.execs = append(f.execs, e)
	return e
}

// startExecution hands a new execution to runner; an error ends the
// execution, kept in its RunError, and is returned.
func (s *Server) startExecution(ctx context.Context, runner ExecutionRunner, e Execution) error {
	err := runner.StartExecution(ctx, s, e)
	if err != nil {
		_ = s.UpdateExecution(e.SID, func(x *Execution) {
			x.Status, x.RunError = "ended", err.Error()
		})
	}
	return err
}

// admitExecution applies Options.ExecutionsPerSecond to a create
// request: it reports whether fewer than that many were let through in
// the second of the server's clock before now, and if so counts this one.
func (s *Server) admitExecution() bool {
	limit := s.opts.ExecutionsPerSecond
	if limit <= 0 {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	recent := s.studio.creates[:0]
	for _, t := range s.studio.creates {
		if t.After(now.Add(-time.Second)) {
			recent = append(recent, t)
		}
	}
	s.studio.creates = recent
	if len(recent) >= limit {
		return false
	}
	s.studio.creates = append(s.studio.creates, now)
	return true
}

func (s *Server) fetchExecution(w http.ResponseWriter, r *http.Request, p map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.execution(p["flow"], p["sid"])
	if e == nil {
		notFound(w, r)
		return
	}
	writeJSON(w, http.StatusOK, s.executionJSON(e))
}

// listExecutions serves a flow's executions, newest first, filtered by
// status and DateCreatedFrom/DateCreatedTo (RFC 3339, inclusive).
func (s *Server) listExecutions(w http.ResponseWriter, r *http.Request, p map[string]string) {
	q := r.URL.Query()
	status := q.Get("status")
	if status == "" {
		status = q.Get("Status")
	}
	if status != "" && status != "active" && status != "ended" {
		writeError(w, http.StatusBadRequest, 20001, "Invalid status: must be active or ended")
		return
	}
	var bounds [2]time.Time
	for i, k := range []string{"DateCreatedFrom", "DateCreatedTo"} {
		if v := q.Get(k); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				writeError(w, http.StatusBadRequest, 20001, "Invalid "+k+": use ISO 8601 (RFC 3339)")
				return
			}
			bounds[i] = t
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.flow(p["flow"])
	if f == nil {
		notFound(w, r)
		return
	}
	var all []*execution
	for i := len(f.execs) - 1; i >= 0; i-- {
		e := f.execs[i]
		switch {
		case status != "" && e.Status != status:
		case !bounds[0].IsZero() && e.DateCreated.Before(bounds[0]):
		case !bounds[1].IsZero() && e.DateCreated.After(bounds[1]):
		default:
			all = append(all, e)
		}
	}
	writeV2Page(w, r, studioBase+"/"+p["flow"]+"/Executions", "executions", all,
		func(e *execution) string { return e.SID }, s.executionJSON)
}

// updateExecution ends an execution: Status=ended is the only update
// Twilio allows.
func (s *Server) updateExecution(w http.ResponseWriter, r *http.Request, p map[string]string) {
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, 20001, "Invalid request body")
		return
	}
	switch st := r.PostForm.Get("Status"); st {
	case "":
		missing(w, "Status")
		return
	case "ended":
	default:
		writeError(w, http.StatusBadRequest, 20001, "Invalid Status: an Execution can only be updated to ended")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.execution(p["flow"], p["sid"])
	if e == nil {
		notFound(w, r)
		return
	}
	if e.Status != "ended" {
		e.Status, e.DateUpdated = "ended", s.clock.Now()
	}
	writeJSON(w, http.StatusOK, s.executionJSON(e))
}

func (s *Server) deleteExecution(w http.ResponseWriter, r *http.Request, p map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.execution(p["flow"], p["sid"])
	if e == nil {
		notFound(w, r)
		return
	}
	delete(s.studio.execs, e.SID)
	if f := s.flow(e.FlowSID); f != nil {
		for i, x := range f.execs {
			if x == e {
				f.execs = append(f.execs[:i:i], f.execs[i+1:]...)
				break
			}
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) fetchExecutionContext(w http.ResponseWriter, r *http.Request, p map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.execution(p["flow"], p["sid"])
	if e == nil {
		notFound(w, r)
		return
	}
	ctx := e.Context
	if ctx == nil {
		ctx = map[string]any{}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"account_sid": s.accountSID, "context": ctx, "flow_sid": e.FlowSID, "execution_sid": e.SID,
		"url": studioBase + "/" + e.FlowSID + "/Executions/" + e.SID + "/Context",
	})
}

func (s *Server) listExecutionSteps(w http.ResponseWriter, r *http.Request, p map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.execution(p["flow"], p["sid"])
	if e == nil {
		notFound(w, r)
		return
	}
	writeV2Page(w, r, studioBase+"/"+e.FlowSID+"/Executions/"+e.SID+"/Steps", "steps", e.steps,
		func(st *ExecutionStep) string { return st.SID },
		func(st *ExecutionStep) map[string]any { return s.stepJSON(e, st) })
}

// findStep returns the step of an execution. Called with s.mu held.
func (s *Server) findStep(p map[string]string) (*execution, *ExecutionStep) {
	e := s.execution(p["flow"], p["sid"])
	if e == nil {
		return nil, nil
	}
	for _, st := range e.steps {
		if st.SID == p["step"] {
			return e, st
		}
	}
	return nil, nil
}

func (s *Server) fetchExecutionStep(w http.ResponseWriter, r *http.Request, p map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, st := s.findStep(p)
	if st == nil {
		notFound(w, r)
		return
	}
	writeJSON(w, http.StatusOK, s.stepJSON(e, st))
}

func (s *Server) fetchExecutionStepContext(w http.ResponseWriter, r *http.Request, p map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, st := s.findStep(p)
	if st == nil {
		notFound(w, r)
		return
	}
	ctx := st.Context
	if ctx == nil {
		ctx = map[string]any{}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"account_sid": s.accountSID, "context": ctx, "execution_sid": e.SID, "flow_sid": e.FlowSID,
		"step_sid": st.SID, "url": studioBase + "/" + e.FlowSID + "/Executions/" + e.SID + "/Steps/" + st.SID + "/Context",
	})
}
