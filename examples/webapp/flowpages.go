package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/patient-outreach/sms/flows"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/studio"
)

// flowLibrary holds the flows the app offers: the built-in ones, and the
// flow files uploaded on the flows page (a flow imported from a Twilio
// Studio export keeps that export in its Source), kept in the store's
// named files as flows/ID.json, so that every instance of the app lists,
// runs and deletes the same. Each file is validated with flows.Load
// whenever it is read.
type flowLibrary struct {
	store outreach.FileStore
	log   *slog.Logger
}

// flowPrefix begins the store's name of every uploaded flow;
// flowsDirPrefix the name of the mark of a flow imported from FLOWS_DIR.
const (
	flowPrefix     = "flows/"
	flowsDirPrefix = "flows-dir-imported/"
)

// flowName is the store's name of the uploaded flow id.
func flowName(id string) string { return flowPrefix + id + ".json" }

// flowEntry is one flow of the library.
type flowEntry struct {
	ID      string
	Flow    *outreach.Flow
	Builtin bool
	// Err is set for an uploaded file that no longer loads (one that
	// was edited by hand in FLOWS_DIR before it was imported).
	Err error
}

// Title is the flow's name, or its id when it has none.
func (e flowEntry) Title() string {
	if e.Flow != nil && e.Flow.Name != "" {
		return e.Flow.Name
	}
	return e.ID
}

// validFlowID is what an uploaded flow's id must look like: it names its file.
var validFlowID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

func (l *flowLibrary) list(ctx context.Context) ([]flowEntry, error) {
	var out []flowEntry
	for _, name := range flows.BuiltinNames() {
		f, err := flows.Builtin(name)
		if err != nil {
			return nil, err
		}
		out = append(out, flowEntry{ID: name, Flow: f, Builtin: true})
	}
	files, err := l.store.ListFiles(ctx, flowPrefix, time.Now())
	if err != nil {
		return nil, err
	}
	for _, file := range files {
		id := strings.TrimSuffix(strings.TrimPrefix(file.Name, flowPrefix), ".json")
		if slices.Contains(flows.BuiltinNames(), id) || !validFlowID.MatchString(id) {
			continue
		}
		f, err := l.load(ctx, id)
		if errors.Is(err, outreach.ErrNotFound) {
			continue // deleted since it was listed
		}
		out = append(out, flowEntry{ID: id, Flow: f, Err: err})
	}
	return out, nil
}

// load reads and validates the uploaded flow id.
func (l *flowLibrary) load(ctx context.Context, id string) (*outreach.Flow, error) {
	_, rc, err := l.store.OpenFile(ctx, flowName(id), time.Now())
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return flows.Load(rc)
}

// get returns a flow by id; false if there is none (or it does not load).
func (l *flowLibrary) get(ctx context.Context, id string) (flowEntry, bool) {
	if f, err := flows.Builtin(id); err == nil {
		return flowEntry{ID: id, Flow: f, Builtin: true}, true
	}
	if !validFlowID.MatchString(id) {
		return flowEntry{}, false
	}
	f, err := l.load(ctx, id)
	if err != nil {
		if !errors.Is(err, outreach.ErrNotFound) && !errors.Is(err, outreach.ErrInvalidFlow) {
			l.log.Warn("read an uploaded flow", "flow", id, "err", err)
		}
		return flowEntry{}, false
	}
	return flowEntry{ID: id, Flow: f}, true
}

// save stores an uploaded flow's file, replacing an older upload with
// the same id.
func (l *flowLibrary) save(ctx context.Context, id string, raw []byte) error {
	_, err := l.store.PutFile(ctx, outreach.FileInfo{Name: flowName(id), Created: time.Now()}, bytes.NewReader(raw))
	return err
}

// remove deletes an uploaded flow; an error matching
// outreach.ErrNotFound when there is none.
func (l *flowLibrary) remove(ctx context.Context, id string) error {
	return l.store.DeleteFile(ctx, flowName(id))
}

// importDir imports, once, the flow files ID.json of dir (FLOWS_DIR,
// where the app kept uploaded flows before they moved into the store)
// whose id the store has neither as a flow nor as imported before: a
// flow deleted since is not brought back. A missing dir imports nothing.
// The files are left as they are; the app never reads them again.
func (l *flowLibrary) importDir(ctx context.Context, dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		return err
	}
	slices.Sort(files)
	imported := 0
	for _, file := range files {
		id := strings.TrimSuffix(filepath.Base(file), ".json")
		if slices.Contains(flows.BuiltinNames(), id) || !validFlowID.MatchString(id) {
			continue
		}
		mark := flowsDirPrefix + id
		if _, err := l.store.StatFile(ctx, mark, time.Now()); err == nil {
			continue
		} else if !errors.Is(err, outreach.ErrNotFound) {
			return err
		}
		switch _, err := l.store.StatFile(ctx, flowName(id), time.Now()); {
		case errors.Is(err, outreach.ErrNotFound):
			if err := l.importFile(ctx, id, file); err != nil {
				return err
			}
			imported++
			l.log.Info("flow imported from FLOWS_DIR into the database", "flow", id)
		case err != nil:
			return err
		}
		if _, err := l.store.PutFile(ctx, outreach.FileInfo{Name: mark, Created: time.Now()}, strings.NewReader("")); err != nil {
			return err
		}
	}
	if imported > 0 {
		l.log.Info("FLOWS_DIR is no longer used: its flows are in the database now", "dir", dir, "flows", imported)
	}
	return nil
}

func (l *flowLibrary) importFile(ctx context.Context, id, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = l.store.PutFile(ctx, outreach.FileInfo{Name: flowName(id), Created: time.Now()}, io.LimitReader(f, flows.MaxFileSize+1))
	return err
}

// studioName is the friendly name a flow is deployed under: what
// studio.Deployer.Deploy uses by default.
func studioName(f *outreach.Flow) string {
	if f.Name != "" {
		return f.Name
	}
	return f.ID
}

// stepView is a step written for people.
type stepView struct {
	ID, Kind, Body, Answer string
	Goes                   []string
}

func describeSteps(f *outreach.Flow) []stepView {
	var out []stepView
	for _, s := range f.Steps {
		v := stepView{ID: s.ID, Kind: string(s.Kind), Body: s.Body}
		if s.Answer != nil {
			v.Answer = s.Answer.Describe()
		}
		for _, rt := range s.Routes {
			v.Goes = append(v.Goes, describeCondition(s, rt.When)+" → "+rt.Next)
		}
		switch s.Kind {
		case outreach.StepSend:
			if s.Next == "" {
				v.Goes = append(v.Goes, "then the conversation ends (completed)")
			} else {
				v.Goes = append(v.Goes, "then → "+s.Next)
			}
		case outreach.StepAsk:
			if s.Next != "" {
				v.Goes = append(v.Goes, map[bool]string{true: "any other answer", false: "a valid answer"}[len(s.Routes) > 0]+" → "+s.Next)
			}
			re := fmt.Sprintf("an answer that does not fit: re-asked up to %d times", s.Reasks())
			if s.NoAnswer != "" {
				re += ", then → " + s.NoAnswer
			}
			v.Goes = append(v.Goes, re)
			to := "no reply within " + timeoutText(s.Timeout)
			if s.OnTimeout != "" {
				to += " → " + s.OnTimeout
			} else {
				to += ": ends (timeout)"
			}
			v.Goes = append(v.Goes, to)
		case outreach.StepBranch:
			v.Body = "(checks " + s.Var + ", sends nothing)"
			if s.Next != "" {
				v.Goes = append(v.Goes, "otherwise → "+s.Next)
			}
		case outreach.StepEnd:
			v.Goes = append(v.Goes, "ends with outcome "+s.Outcome)
		}
		out = append(out, v)
	}
	return out
}

func timeoutText(d outreach.Duration) string {
	if d == 0 {
		return "6 minutes (first question) or 1 hour"
	}
	td := time.Duration(d)
	switch {
	case td%time.Hour == 0:
		return plural(int(td/time.Hour), "hour")
	case td%time.Minute == 0:
		return plural(int(td/time.Minute), "minute")
	}
	return td.String()
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

func describeCondition(s outreach.Step, c outreach.Condition) string {
	subject := "answer"
	if s.Kind == outreach.StepBranch {
		subject = s.Var
	}
	return subject + " " + c.Describe()
}

// flowView is a flow on the flows pages, with its Studio status.
type flowView struct {
	flowEntry
	TwoWay     bool
	Steps      []stepView
	StudioName string
	Deployed   *studio.Deployed
	StudioErr  string
}

type flowsView struct {
	Flows      []flowView
	Number     string
	NumberNote string
	// Owned is true while a runtime other than the embedded one owns the
	// number: the page then offers to give it back.
	Owned     bool
	MaxFlowKB int
	// StudioImport is the result of the Studio import just made, if any.
	StudioImport *studioImport
}

// studioImport is the result of importing a Twilio Studio export: every
// problem the import found, and the flow it kept, if any.
type studioImport struct {
	FileName string
	// Err is why the file was not read or the flow not kept, besides
	// the problems.
	Err      string
	Problems []studio.Problem
	// FlowID is the id of the flow kept; empty when none was.
	FlowID string
}

// Errors counts the problems that stopped the import.
func (si *studioImport) Errors() int {
	n := 0
	for _, p := range si.Problems {
		if p.Severity == studio.Error {
			n++
		}
	}
	return n
}

// Warnings counts the problems that did not.
func (si *studioImport) Warnings() int { return len(si.Problems) - si.Errors() }

// numberOwner says who receives the replies to the sending number, and
// whether a runtime other than the embedded one owns it.
func (a *app) numberOwner(r *http.Request) (string, bool) {
	number := sendingNumber(a.cfg)
	o, ok, err := a.store.NumberOwner(r.Context(), number)
	switch {
	case err != nil:
		a.log.Warn("number owner", "err", err)
		return "unknown (the database did not answer)", false
	case !ok:
		return "the embedded runtime: replies come to this app's webhook, " + a.cfg.PublicBaseURL + "/twilio/sms", false
	}
	s := "the " + o.Runtime + " runtime"
	if o.FlowName != "" {
		s += " (Studio flow " + strconv.Quote(o.FlowName) + ")"
	}
	return s + ", since " + o.Since.Local().Format("Jan 2 15:04") + ": embedded campaigns cannot use it meanwhile", true
}

// ownerNote is numberOwner's description alone.
func (a *app) ownerNote(r *http.Request) string {
	note, _ := a.numberOwner(r)
	return note
}

// numberReleaser is a runtime that can give the sending number back to
// the embedded runtime (the Studio runtime).
type numberReleaser interface {
	ReleaseNumber(ctx context.Context, number, webhookURL string) error
}

// releaseNumber points the sending number back at this app's webhook and
// removes the owner's record, through the runtime that owns it.
func (a *app) releaseNumber(w http.ResponseWriter, r *http.Request) {
	number := sendingNumber(a.cfg)
	o, ok, err := a.store.NumberOwner(r.Context(), number)
	if err != nil {
		a.internalError(w, r, "reading the number's owner", err)
		return
	}
	rel, can := a.runtimes[o.Runtime].(numberReleaser)
	switch {
	case !ok:
		a.flash(r, "The embedded runtime already receives the replies.")
	case !can:
		a.flashError(r, "The "+o.Runtime+" runtime cannot give the number back.")
	default:
		if err := rel.ReleaseNumber(r.Context(), number, a.cfg.PublicBaseURL+"/twilio/sms"); err != nil {
			a.log.Warn("release number", "runtime", o.Runtime, "err", err)
			a.flashError(r, "The number was not given back: "+err.Error())
		} else {
			a.log.Info("number given back to the embedded runtime", "number", outreach.MaskPhone(number))
			a.flash(r, "Replies to "+number+" now come to this app again.")
		}
	}
	http.Redirect(w, r, "/flows", http.StatusSeeOther)
}

func (a *app) flowsPage(w http.ResponseWriter, r *http.Request) {
	a.renderFlows(w, r, http.StatusOK, nil)
}

// renderFlows renders the flows page, with the result of a Studio import
// when si is not nil.
func (a *app) renderFlows(w http.ResponseWriter, r *http.Request, status int, si *studioImport) {
	entries, err := a.flows.list(r.Context())
	if err != nil {
		a.internalError(w, r, "listing the flows", err)
		return
	}
	deployed := map[string]studio.Deployed{}
	studioErr := ""
	if list, err := a.deployer.List(r.Context()); err != nil {
		a.log.Warn("studio: list flows", "err", err)
		studioErr = "Twilio Studio did not answer, so the deployed status is unknown."
	} else {
		for _, d := range list {
			deployed[d.FriendlyName] = d
		}
	}
	note, owned := a.numberOwner(r)
	v := flowsView{Number: sendingNumber(a.cfg), NumberNote: note, Owned: owned, MaxFlowKB: flows.MaxFileSize >> 10, StudioImport: si}
	for _, e := range entries {
		fv := flowView{flowEntry: e, StudioErr: studioErr}
		if e.Flow != nil {
			fv.TwoWay = e.Flow.TwoWay()
			fv.StudioName = studioName(e.Flow)
			if d, ok := deployed[fv.StudioName]; ok {
				fv.Deployed = &d
			}
		}
		v.Flows = append(v.Flows, fv)
	}
	a.render(w, r, status, "flows", pageData{Title: "Flows", Nav: "flows", Page: v})
}

// notFlowID is what a flow id made from a file name may not hold.
var notFlowID = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// importStudioFlow imports an uploaded Twilio Studio export as a flow and
// keeps it when nothing stops it from running. The page lists every
// problem the import found, errors and warnings, each with its widget.
func (a *app) importStudioFlow(w http.ResponseWriter, r *http.Request) {
	raw, name, ok := a.readFlowUpload(w, r, "definition", "That Studio export is too large: it may be", "Choose a Twilio Studio export (.json) to import.")
	if !ok {
		return
	}
	si := &studioImport{FileName: name}
	def, err := studio.Decode(raw)
	if err != nil {
		si.Err = "This is not a Twilio Studio export: " + err.Error()
		a.renderFlows(w, r, http.StatusUnprocessableEntity, si)
		return
	}
	f, problems, err := studio.Import(def)
	si.Problems = problems
	if err != nil {
		si.Err = "The flow was not imported: fix the errors below in Studio and export it again."
		a.renderFlows(w, r, http.StatusUnprocessableEntity, si)
		return
	}
	f.ID = strings.TrimSpace(r.FormValue("id"))
	if f.ID == "" {
		f.ID = strings.Trim(notFlowID.ReplaceAllString(strings.TrimSuffix(si.FileName, filepath.Ext(si.FileName)), "_"), "_-")
	}
	f.Name = strings.TrimSpace(r.FormValue("name"))
	switch {
	case !validFlowID.MatchString(f.ID):
		si.Err = "The flow's id names its file here: use letters, digits, - and _ (at most 64), starting with a letter or digit."
	case slices.Contains(flows.BuiltinNames(), f.ID):
		si.Err = strconv.Quote(f.ID) + " is a built-in flow: give the imported flow another id."
	}
	if si.Err != "" {
		a.renderFlows(w, r, http.StatusUnprocessableEntity, si)
		return
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		a.internalError(w, r, "encoding the flow", err)
		return
	}
	if len(data) > flows.MaxFileSize {
		si.Err = fmt.Sprintf("The imported flow, with the Studio export it keeps, is larger than a flow file may be (%d KB).", flows.MaxFileSize>>10)
		a.renderFlows(w, r, http.StatusUnprocessableEntity, si)
		return
	}
	if err := a.flows.save(r.Context(), f.ID, data); err != nil {
		a.internalError(w, r, "saving the flow", err)
		return
	}
	si.FlowID = f.ID
	a.log.Info("studio flow imported", "flow", f.ID, "steps", len(f.Steps), "warnings", len(problems))
	a.renderFlows(w, r, http.StatusOK, si)
}

func (a *app) flowPage(w http.ResponseWriter, r *http.Request) {
	e, ok := a.flows.get(r.Context(), r.PathValue("id"))
	if !ok {
		a.errorPage(w, r, http.StatusNotFound, "There is no such flow.")
		return
	}
	fv := flowView{flowEntry: e, TwoWay: e.Flow.TwoWay(), Steps: describeSteps(e.Flow), StudioName: studioName(e.Flow)}
	d, found, err := a.deployer.Find(r.Context(), fv.StudioName)
	switch {
	case err != nil:
		a.log.Warn("studio: find flow", "err", err)
		fv.StudioErr = "Twilio Studio did not answer, so the deployed status is unknown."
	case found:
		fv.Deployed = &d
	}
	a.render(w, r, http.StatusOK, "flow", pageData{Title: e.Title(), Nav: "flows", Page: struct {
		flowView
		Number, NumberNote string
	}{fv, sendingNumber(a.cfg), a.ownerNote(r)}})
}

// uploadFlow validates an uploaded flow file with flows.Load and keeps it.
func (a *app) uploadFlow(w http.ResponseWriter, r *http.Request) {
	raw, name, ok := a.readFlowUpload(w, r, "flow", "That flow file is too large: a flow file may be", "Choose a flow file (.json) to upload.")
	if !ok {
		return
	}
	f, err := flows.Load(bytes.NewReader(raw))
	if err != nil {
		a.flashError(r, name+": "+flowLoadMessage(err))
		http.Redirect(w, r, "/flows", http.StatusSeeOther)
		return
	}
	switch {
	case !validFlowID.MatchString(f.ID):
		a.flashError(r, name+": the flow's \"id\" names its file here: use letters, digits, - and _ (at most 64), starting with a letter or digit.")
	case slices.Contains(flows.BuiltinNames(), f.ID):
		a.flashError(r, name+": "+strconv.Quote(f.ID)+" is a built-in flow: give your flow another \"id\".")
	default:
		if err := a.flows.save(r.Context(), f.ID, raw); err != nil {
			a.internalError(w, r, "saving the flow", err)
			return
		}
		a.flash(r, "Flow "+strconv.Quote(f.ID)+" uploaded.")
		http.Redirect(w, r, "/flows/"+f.ID, http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/flows", http.StatusSeeOther)
}

// flowLoadMessage writes a flows.Load error for people: where, then what.
func flowLoadMessage(err error) string {
	var le *flows.LoadError
	if !errors.As(err, &le) {
		return err.Error()
	}
	var b strings.Builder
	if le.Line > 0 {
		fmt.Fprintf(&b, "line %d, column %d: ", le.Line, le.Column)
	}
	if le.Field != "" {
		fmt.Fprintf(&b, "%s: ", le.Field)
	}
	var fe *outreach.FlowError
	if errors.As(err, &fe) {
		b.WriteString("the flow is not valid:")
		for _, p := range fe.Problems {
			b.WriteString(" • " + p.String())
		}
		return b.String()
	}
	b.WriteString(strings.TrimPrefix(le.Err.Error(), "flows: "))
	return b.String()
}

func (a *app) deployFlow(w http.ResponseWriter, r *http.Request) {
	e, ok := a.flows.get(r.Context(), r.PathValue("id"))
	if !ok {
		a.errorPage(w, r, http.StatusNotFound, "There is no such flow.")
		return
	}
	d, err := a.deployer.Deploy(r.Context(), e.Flow, studio.DeployOptions{CommitMessage: "deployed from the Patient Outreach web app"})
	a.audit(r, outreach.ActionFlowDeployed, resultOf(err), "flow", e.ID, deployDetail(d, err))
	if err != nil {
		a.log.Warn("studio: deploy", "flow", e.ID, "err", err)
		var ve *studio.ValidationError
		if errors.As(err, &ve) {
			a.flashError(r, "Twilio Studio refused the flow: "+ve.Error())
		} else {
			a.flashError(r, "The flow could not be deployed to Twilio Studio: "+err.Error())
		}
	} else {
		a.log.Info("studio: deployed", "flow", e.ID, "sid", d.SID, "revision", d.Revision)
		a.flash(r, fmt.Sprintf("Deployed to Twilio Studio as %q, revision %d.", d.FriendlyName, d.Revision))
	}
	http.Redirect(w, r, "/flows/"+e.ID, http.StatusSeeOther)
}

func (a *app) undeployFlow(w http.ResponseWriter, r *http.Request) {
	e, ok := a.flows.get(r.Context(), r.PathValue("id"))
	if !ok {
		a.errorPage(w, r, http.StatusNotFound, "There is no such flow.")
		return
	}
	err := a.deployer.Delete(r.Context(), studioName(e.Flow))
	a.audit(r, outreach.ActionFlowDeleted, resultOf(err), "flow", e.ID, "from studio")
	if err != nil {
		a.log.Warn("studio: delete", "flow", e.ID, "err", err)
		if errors.Is(err, studio.ErrNotFound) {
			a.flashError(r, "The flow is not deployed to Twilio Studio.")
		} else {
			a.flashError(r, "The flow could not be deleted from Twilio Studio: "+err.Error())
		}
	} else {
		a.log.Info("studio: deleted", "flow", e.ID)
		a.flash(r, "Deleted from Twilio Studio.")
	}
	http.Redirect(w, r, "/flows/"+e.ID, http.StatusSeeOther)
}

func (a *app) deleteFlow(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	e, ok := a.flows.get(r.Context(), id)
	if ok && e.Builtin {
		a.flashError(r, "Built-in flows cannot be deleted.")
		http.Redirect(w, r, "/flows/"+id, http.StatusSeeOther)
		return
	}
	if !validFlowID.MatchString(id) {
		a.errorPage(w, r, http.StatusNotFound, "There is no such flow.")
		return
	}
	err := a.flows.remove(r.Context(), id)
	a.audit(r, outreach.ActionFlowDeleted, resultOf(err), "flow", id, "from the library")
	if err != nil && !errors.Is(err, outreach.ErrNotFound) {
		a.internalError(w, r, "deleting the flow", err)
		return
	}
	a.flash(r, "Flow "+strconv.Quote(id)+" deleted. Campaigns that used it keep their copy.")
	http.Redirect(w, r, "/flows", http.StatusSeeOther)
}

// sampleCSV is a recipients file for a flow: the required columns and
// each extra column its messages use ({{data.COLUMN}}).
func (a *app) sampleCSV(w http.ResponseWriter, r *http.Request) {
	e, ok := a.flows.get(r.Context(), r.PathValue("id"))
	if !ok {
		a.errorPage(w, r, http.StatusNotFound, "There is no such flow.")
		return
	}
	cols := dataColumns(e.Flow)
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	cw.Write(append([]string{"patient_id", "patient_first_name", "patient_phone"}, cols...))
	rows := [][]string{
		{"P-1001", "Maria", "(440) 555-0142"},
		{"P-1002", "James", "208-555-0187"},
		{"P-1003", "Aiyana", "602.555.0113"},
	}
	for _, row := range rows {
		for _, c := range cols {
			row = append(row, "example "+c)
		}
		cw.Write(row)
	}
	cw.Flush()
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+e.ID+`-recipients.csv"`)
	w.Write(buf.Bytes())
}

// dataColumns lists the extra CSV columns a flow's templates read.
func dataColumns(f *outreach.Flow) []string {
	var cols []string
	for _, s := range f.Steps {
		for _, t := range []string{s.Body, s.Hint} {
			vars, _ := outreach.TemplateVars(t)
			for _, v := range vars {
				if c, ok := strings.CutPrefix(v, "data."); ok && !slices.Contains(cols, c) {
					cols = append(cols, c)
				}
			}
		}
	}
	return cols
}

// readFlowUpload reads the file of form field, at most flows.MaxFileSize
// bytes (one more tells the caller it is too large), and its base name. It
// answers the request and returns false when there is no file (flashing
// missing) or the request is too large (tooLarge, followed by the limit).
func (a *app) readFlowUpload(w http.ResponseWriter, r *http.Request, field, tooLarge, missing string) (raw []byte, name string, ok bool) {
	r.Body = http.MaxBytesReader(w, r.Body, flows.MaxFileSize+64<<10)
	file, hdr, err := r.FormFile(field)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			a.errorPage(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("%s at most %d KB.", tooLarge, flows.MaxFileSize>>10))
			return nil, "", false
		}
		a.flashError(r, missing)
		http.Redirect(w, r, "/flows", http.StatusSeeOther)
		return nil, "", false
	}
	defer file.Close()
	raw, err = io.ReadAll(io.LimitReader(file, flows.MaxFileSize+1))
	if err != nil {
		a.internalError(w, r, "reading the upload", err)
		return nil, "", false
	}
	return raw, filepath.Base(hdr.Filename), true
}
