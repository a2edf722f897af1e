package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/patient-outreach/sms/csvio"
	"github.com/patient-outreach/sms/fhirio"
	"github.com/patient-outreach/sms/outreach"
)

// An uploaded recipients file is copied to a temporary file and read
// once for the preview (its counts, its first problems and recipients);
// when the operator starts the campaign it is read again, and its rows
// are stored as they are read, in batches. Neither reading holds the
// rows in memory, so MAX_UPLOAD_BYTES alone limits a file. The upload's
// key is random and is also kept in the uploader's session, so no one
// else can use it, and no recipient ever travels in a form field.
// Uploads expire after an hour; their files are removed then, when used
// or discarded, and when the app closes.

const (
	uploadTTL  = time.Hour
	maxUploads = 10 // files on disk, up to MAX_UPLOAD_BYTES each
	// maxShownProblems is how many row errors, and how many warnings, the
	// preview lists; it counts the rest.
	maxShownProblems = 200
)

type upload struct {
	Key      string
	FileName string
	FlowID   string
	FlowName string
	Flow     *outreach.Flow
	Runtime  string
	Name     string
	Result   uploadSummary
	// RequireConsent is the new campaign form's "Require a consent
	// column": rows without consent are among Result's errors.
	RequireConsent bool
	Created        time.Time

	path string // the file's copy
	fhir bool   // FHIR Patients rather than a CSV file
}

// uploadSummary is what the preview shows of a recipients file.
type uploadSummary struct {
	Rows, BadRows, Valid     int
	ErrorCount, WarningCount int
	// Errors and Warnings are the first maxShownProblems of each.
	Errors, Warnings []*csvio.RowError
	// First are the first previewRows valid recipients.
	First []outreach.Recipient
}

// MoreErrors and MoreWarnings count the problems the preview leaves out.
func (s uploadSummary) MoreErrors() int   { return s.ErrorCount - len(s.Errors) }
func (s uploadSummary) MoreWarnings() int { return s.WarningCount - len(s.Warnings) }

func (s *uploadSummary) add(row csvio.Row) {
	s.Rows++
	s.WarningCount += len(row.Warnings)
	s.Warnings = appendShown(s.Warnings, row.Warnings)
	if !row.OK() {
		s.BadRows++
		s.ErrorCount += len(row.Errors)
		s.Errors = appendShown(s.Errors, row.Errors)
		return
	}
	s.Valid++
	if len(s.First) < previewRows {
		s.First = append(s.First, row.Recipient)
	}
}

func appendShown(shown, more []*csvio.RowError) []*csvio.RowError {
	return append(shown, more[:min(len(more), maxShownProblems-len(shown))]...)
}

// rows opens the upload's file and returns a reader of its rows; close
// the file when done. The error refuses the file as a whole.
func (up *upload) rows(a *app) (csvio.RowReader, *os.File, error) {
	f, err := os.Open(up.path)
	if err != nil {
		return nil, nil, err
	}
	var rr csvio.RowReader
	if up.fhir {
		// FHIR R4 Patients (Bulk Data NDJSON or a Bundle): the same
		// rows and row errors, naming the element.
		rr, err = fhirio.NewReader(f, fhirio.Options{Now: a.now()})
	} else {
		rr, err = csvio.NewRecipientReader(f, csvio.Options{MaxBytes: a.cfg.MaxUploadBytes, MaxRows: -1, RequireConsent: up.RequireConsent})
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return rr, f, nil
}

// summarize reads the upload's file for its preview.
func (up *upload) summarize(ctx context.Context, a *app) error {
	rr, f, err := up.rows(a)
	if err != nil {
		return err
	}
	defer f.Close()
	return csvio.EachRow(ctx, rr, func(row csvio.Row) error {
		up.Result.add(row)
		return nil
	})
}

// remove deletes the upload's file.
func (up *upload) remove() {
	if up.path != "" {
		_ = os.Remove(up.path)
	}
}

type uploads struct {
	mu sync.Mutex
	m  map[string]*upload
}

func newUploads() *uploads { return &uploads{m: map[string]*upload{}} }

func (u *uploads) put(up *upload) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for k, old := range u.m {
		if time.Since(old.Created) > uploadTTL {
			old.remove()
			delete(u.m, k)
		}
	}
	for len(u.m) >= maxUploads { // drop the oldest
		var oldest *upload
		for _, x := range u.m {
			if oldest == nil || x.Created.Before(oldest.Created) {
				oldest = x
			}
		}
		oldest.remove()
		delete(u.m, oldest.Key)
	}
	u.m[up.Key] = up
}

func (u *uploads) get(key string) (*upload, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	up, ok := u.m[key]
	if ok && time.Since(up.Created) > uploadTTL {
		up.remove()
		delete(u.m, key)
		return nil, false
	}
	return up, ok
}

// take removes an upload from the list without removing its file, so
// that a second request to start it finds none; put it back to keep it.
func (u *uploads) take(key string) (*upload, bool) {
	up, ok := u.get(key)
	if ok {
		u.mu.Lock()
		delete(u.m, key)
		u.mu.Unlock()
	}
	return up, ok
}

func (u *uploads) drop(key string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if up, ok := u.m[key]; ok {
		up.remove()
		delete(u.m, key)
	}
}

// removeAll removes every upload and its file.
func (u *uploads) removeAll() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for k, up := range u.m {
		up.remove()
		delete(u.m, k)
	}
}

// spool copies an uploaded file to a temporary file of its own, which
// outlives the request.
func spool(src io.Reader) (string, error) {
	f, err := os.CreateTemp("", "outreach-upload-*")
	if err != nil {
		return "", err
	}
	_, err = io.Copy(f, src)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

type newCampaignView struct {
	Flows      []flowEntry
	Runtimes   []string
	FlowID     string
	MaxUpload  string
	NumberNote string
}

func (a *app) newCampaignPage(w http.ResponseWriter, r *http.Request) {
	entries, err := a.flows.list()
	if err != nil {
		a.internalError(w, r, "listing the flows", err)
		return
	}
	entries = slices.DeleteFunc(entries, func(e flowEntry) bool { return e.Err != nil })
	a.render(w, r, http.StatusOK, "new", pageData{Title: "New campaign", Nav: "new", Page: newCampaignView{
		Flows: entries, Runtimes: runtimeNames(a.runtimes), FlowID: r.URL.Query().Get("flow"),
		MaxUpload: byteSize(a.cfg.MaxUploadBytes), NumberNote: a.ownerNote(r),
	}})
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// tooLarge answers 413 with a page that says what the limit is.
func (a *app) tooLarge(w http.ResponseWriter, r *http.Request) {
	a.errorPage(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf(
		"That file is too large: the limit is %s. Split the list into several files and run a campaign for each, or ask your administrator to raise MAX_UPLOAD_BYTES.",
		byteSize(a.cfg.MaxUploadBytes)))
}

// parseUpload reads a multipart upload of at most MAX_UPLOAD_BYTES (and
// room for the form's other fields). It answers 413 when the upload is
// too large, and sends the browser back to back when it did not arrive
// whole; the caller then returns. Otherwise the caller must remove the
// form's files (r.MultipartForm.RemoveAll).
func (a *app) parseUpload(w http.ResponseWriter, r *http.Request, back string) bool {
	limit := a.cfg.MaxUploadBytes + 64<<10
	if r.ContentLength > limit {
		a.tooLarge(w, r)
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			a.tooLarge(w, r)
			return false
		}
		a.flashError(r, "The upload did not arrive complete. Try again.")
		http.Redirect(w, r, back, http.StatusSeeOther)
		return false
	}
	return true
}

// csvReadError answers an uploaded CSV file that could not be read: 413
// when it is over MAX_UPLOAD_BYTES; for a bad header or another limit,
// the problem (after the file's name, followed by note) as a flash and
// back to back; otherwise 500.
func (a *app) csvReadError(w http.ResponseWriter, r *http.Request, err error, file, back, note string) {
	var le *csvio.LimitError
	if errors.As(err, &le) && le.Limit == csvio.LimitBytes {
		a.tooLarge(w, r)
		return
	}
	var he *csvio.HeaderError
	if errors.As(err, &he) || errors.As(err, &le) {
		a.flashError(r, file+": "+err.Error()+note)
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	a.internalError(w, r, "reading the CSV", err)
}

// uploadRecipients reads the CSV at once, keeps it server-side and shows
// the preview. Nothing is sent before the operator confirms.
func (a *app) uploadRecipients(w http.ResponseWriter, r *http.Request) {
	if !a.parseUpload(w, r, "/campaigns/new") {
		return
	}
	defer r.MultipartForm.RemoveAll()
	back := "/campaigns/new?flow=" + r.FormValue("flow")
	e, ok := a.flows.get(r.FormValue("flow"))
	if !ok {
		a.flashError(r, "Pick a flow.")
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	rtName := r.FormValue("runtime")
	if _, ok := a.runtimes[rtName]; !ok {
		a.flashError(r, "Pick a runtime.")
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	file, hdr, err := r.FormFile("recipients")
	if err != nil {
		a.flashError(r, "Choose the CSV file of recipients.")
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	defer file.Close()
	up := &upload{
		Key: rand.Text(), FileName: filepath.Base(hdr.Filename), FlowID: e.ID, FlowName: e.Title(), Flow: e.Flow,
		Runtime: rtName, RequireConsent: r.FormValue("require_consent") != "", Created: time.Now(),
		fhir: fhirUpload(hdr.Filename),
	}
	if up.fhir && a.cfg.MaxUploadBytes > 0 && hdr.Size > a.cfg.MaxUploadBytes {
		a.tooLarge(w, r)
		return
	}
	if up.path, err = spool(file); err != nil {
		a.internalError(w, r, "keeping the upload", err)
		return
	}
	if err := up.summarize(r.Context(), a); err != nil {
		up.remove()
		if up.fhir {
			a.flashError(r, up.FileName+": "+err.Error())
			http.Redirect(w, r, back, http.StatusSeeOther)
			return
		}
		a.csvReadError(w, r, err, up.FileName, back, "")
		return
	}
	name := strings.TrimSpace(r.FormValue("name"))
	if name == "" {
		name = e.Title() + ", " + a.now().UTC().Format("Jan 2 15:04 UTC")
	}
	if len(name) > 200 {
		name = name[:200]
	}
	up.Name = name
	// One pending upload per session: a new one replaces the last.
	if prev := a.sessions.GetString(r.Context(), "upload"); prev != "" {
		a.uploads.drop(prev)
	}
	a.uploads.put(up)
	a.sessions.Put(r.Context(), "upload", up.Key)
	a.log.Info("recipients uploaded", "upload", up.Key[:6], "rows", up.Result.Rows, "bad_rows", up.Result.BadRows, "warnings", up.Result.WarningCount)
	http.Redirect(w, r, "/uploads/"+up.Key, http.StatusSeeOther)
}

// fhirUpload reports whether an uploaded file holds FHIR Patients rather
// than a CSV: by its name, .ndjson or .json.
func fhirUpload(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".ndjson" || ext == ".json"
}

// ownUpload returns the session's upload named in the path.
func (a *app) ownUpload(w http.ResponseWriter, r *http.Request) (*upload, bool) {
	key := r.PathValue("key")
	up, ok := a.uploads.get(key)
	if !ok || a.sessions.GetString(r.Context(), "upload") != key {
		a.errorPage(w, r, http.StatusNotFound, "This upload has expired or was already used. Upload the file again.")
		return nil, false
	}
	return up, true
}

type previewRecipient struct {
	ID, FirstName, Phone string
	Zones                []string
	Messages             []string
	Err                  string
}

type previewView struct {
	*upload
	Valid    int
	Previews []previewRecipient
	TwoWay   bool
}

const previewRows = 3

func (a *app) previewPage(w http.ResponseWriter, r *http.Request) {
	up, ok := a.ownUpload(w, r)
	if !ok {
		return
	}
	v := previewView{upload: up, Valid: up.Result.Valid, TwoWay: up.Flow.TwoWay()}
	for _, rec := range up.Result.First {
		p := previewRecipient{ID: rec.ID, FirstName: rec.FirstName, Phone: rec.Phone, Zones: outreach.RecipientZones(rec, a.cfg.Window)}
		msgs, err := outreach.Preview(up.Flow, rec)
		if err != nil {
			p.Err = err.Error()
		}
		p.Messages = msgs
		v.Previews = append(v.Previews, p)
	}
	a.render(w, r, http.StatusOK, "preview", pageData{Title: "Check the recipients", Nav: "new", Page: v})
}

// confirmCampaign creates the campaign through its runtime, storing the
// file's valid rows as it reads them, and starts it.
func (a *app) confirmCampaign(w http.ResponseWriter, r *http.Request) {
	up, ok := a.ownUpload(w, r)
	if !ok {
		return
	}
	rt, ok := a.runtimes[up.Runtime]
	if !ok {
		a.errorPage(w, r, http.StatusBadRequest, "That runtime is not available.")
		return
	}
	if up.Result.Valid == 0 {
		a.flashError(r, "No row of the file can be used: fix the errors and upload it again.")
		http.Redirect(w, r, "/uploads/"+up.Key, http.StatusSeeOther)
		return
	}
	// Taken, so that a second click finds the upload used.
	if _, ok := a.uploads.take(up.Key); !ok {
		a.errorPage(w, r, http.StatusNotFound, "This upload has expired or was already used. Upload the file again.")
		return
	}
	ctx := r.Context()
	c, added, err := a.createFromUpload(ctx, rt, up)
	a.audit(r, outreach.ActionCampaignCreated, resultOf(err), "campaign", idOrEmpty(c.ID), fmt.Sprintf("runtime=%s recipients=%d", up.Runtime, added))
	if err != nil {
		a.log.Warn("create campaign", "runtime", up.Runtime, "err", err)
		a.flashError(r, "The campaign could not be created: "+err.Error())
		a.uploads.put(up)
		http.Redirect(w, r, "/uploads/"+up.Key, http.StatusSeeOther)
		return
	}
	up.remove()
	a.sessions.Remove(ctx, "upload")
	err = rt.StartCampaign(ctx, c.ID)
	a.audit(r, outreach.ActionCampaignStarted, resultOf(err), "campaign", idOrEmpty(c.ID), "")
	if err != nil {
		a.log.Warn("start campaign", "campaign", c.ID, "err", err)
		a.flashError(r, "The campaign was created but could not start: "+err.Error())
	} else {
		a.log.Info("campaign started", "campaign", c.ID, "runtime", up.Runtime, "recipients", added)
		a.flash(r, "Campaign started for "+plural(added, "recipient")+".")
	}
	http.Redirect(w, r, "/campaigns/"+strconv.FormatInt(c.ID, 10), http.StatusSeeOther)
}

// createFromUpload creates a draft campaign of the upload's valid rows,
// stored in batches as the file is read again. A campaign whose rows
// could not all be stored is cancelled, so that no one starts it half
// made; the error says so.
func (a *app) createFromUpload(ctx context.Context, rt outreach.Runtime, up *upload) (outreach.Campaign, int, error) {
	rr, f, err := up.rows(a)
	if err != nil {
		return outreach.Campaign{}, 0, err
	}
	defer f.Close()
	recipients := csvio.Recipients(ctx, rr)
	if a.dev != nil {
		recipients = a.dev.withPhones(recipients)
	}
	c, added, err := outreach.CreateCampaignFrom(ctx, rt, outreach.NewCampaign{Name: up.Name, Flow: up.Flow}, recipients)
	var ie *outreach.ImportError
	if errors.As(err, &ie) {
		if cerr := rt.CancelCampaign(context.WithoutCancel(ctx), c.ID); cerr != nil {
			return c, added, fmt.Errorf("%w; and cancelling the campaign failed: %v", err, cerr)
		}
		return c, added, fmt.Errorf("%w (the campaign is cancelled)", err)
	}
	return c, added, err
}

func (a *app) discardUpload(w http.ResponseWriter, r *http.Request) {
	if up, ok := a.ownUpload(w, r); ok {
		a.uploads.drop(up.Key)
		a.sessions.Remove(r.Context(), "upload")
		a.flash(r, "Upload discarded: nothing was sent.")
		http.Redirect(w, r, "/campaigns/new", http.StatusSeeOther)
	}
}

type campaignRow struct {
	outreach.Campaign
	RuntimeName string
	FlowName    string
}

func rowOf(c outreach.Campaign) campaignRow {
	row := campaignRow{Campaign: c, RuntimeName: runtimeFor(c)}
	if c.Flow != nil {
		row.FlowName = flowEntry{ID: c.Flow.ID, Flow: c.Flow}.Title()
	}
	return row
}

func (a *app) campaignsPage(w http.ResponseWriter, r *http.Request) {
	cs, err := a.store.Campaigns(r.Context())
	if err != nil {
		a.internalError(w, r, "listing the campaigns", err)
		return
	}
	rows := make([]campaignRow, 0, len(cs))
	own := world(a.cfg)
	for _, c := range cs {
		if c.World != own {
			continue // another world's (a CLI simulation's, another account's): not ours to show or run
		}
		rows = append(rows, rowOf(c))
	}
	stray, err := a.alertRows(r.Context(), 0)
	if err != nil {
		a.internalError(w, r, "reading the alerts", err)
		return
	}
	a.render(w, r, http.StatusOK, "campaigns", pageData{Title: "Campaigns", Nav: "campaigns", Page: campaignsView{Campaigns: rows, Stray: stray}})
}

// campaignsView is the campaigns page: the app's campaigns, and the
// urgent replies that matched no conversation.
type campaignsView struct {
	Campaigns []campaignRow
	Stray     []alertRow
}

// campaign reads the campaign in the path and its runtime.
func (a *app) campaign(w http.ResponseWriter, r *http.Request) (outreach.Campaign, outreach.Runtime, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		a.errorPage(w, r, http.StatusNotFound, "There is no such campaign.")
		return outreach.Campaign{}, nil, false
	}
	c, err := a.store.Campaign(r.Context(), id)
	if err == nil && c.World != world(a.cfg) {
		err = fmt.Errorf("campaign %d: %w", id, outreach.ErrNotFound) // another world's
	}
	if errors.Is(err, outreach.ErrNotFound) {
		a.errorPage(w, r, http.StatusNotFound, "There is no such campaign.")
		return c, nil, false
	} else if err != nil {
		a.internalError(w, r, "reading the campaign", err)
		return c, nil, false
	}
	rt, ok := a.runtimes[runtimeFor(c)]
	if !ok {
		a.errorPage(w, r, http.StatusServiceUnavailable, "This campaign runs on the "+runtimeFor(c)+" runtime, which this server is not configured for.")
		return c, nil, false
	}
	return c, rt, true
}

type campaignView struct {
	campaignRow
	Counters counters
	Window   string // the sending window, such as 08:00-21:00
	Alerts   []alertRow
	Reviews  []reviewRow
	// RetentionDays is RETENTION_DAYS, shown once the campaign's texts
	// were deleted (PurgedAt).
	RetentionDays int
}

func (a *app) campaignPage(w http.ResponseWriter, r *http.Request) {
	c, rt, ok := a.campaign(w, r)
	if !ok {
		return
	}
	p, err := rt.Progress(r.Context(), c.ID)
	if err != nil {
		a.internalError(w, r, "reading the progress", err)
		return
	}
	s, err := a.schedule(r.Context(), c)
	if err != nil {
		a.internalError(w, r, "reading the schedule", err)
		return
	}
	cnt := countersOf(c.Status, p, s)
	cnt.Skip = a.skipOf(c, s)
	alerts, err := a.alertRows(r.Context(), c.ID)
	if err != nil {
		a.internalError(w, r, "reading the alerts", err)
		return
	}
	for _, al := range alerts {
		if al.AckedAt.IsZero() {
			cnt.Urgent++
		}
	}
	reviews, err := a.reviewRows(r.Context(), c)
	if err != nil {
		a.internalError(w, r, "reading the replies to review", err)
		return
	}
	a.render(w, r, http.StatusOK, "campaign", pageData{Title: c.Name, Nav: "campaigns", Page: campaignView{
		campaignRow: rowOf(c), Counters: cnt, Window: a.cfg.Window.String(), Alerts: alerts, Reviews: reviews,
		RetentionDays: a.cfg.RetentionDays,
	}})
}

// campaignActions are the lifecycle buttons of the campaign page.
var campaignActions = map[string]struct {
	run       func(rt outreach.Runtime, ctx context.Context, id int64) error
	past, msg string
}{
	"start":  {outreach.Runtime.StartCampaign, "started", "Campaign started."},
	"pause":  {outreach.Runtime.PauseCampaign, "paused", "Campaign paused: nothing more is sent until you resume it."},
	"resume": {outreach.Runtime.ResumeCampaign, "resumed", "Campaign resumed."},
	"cancel": {outreach.Runtime.CancelCampaign, "cancelled", "Campaign cancelled: nothing more will be sent."},
}

// campaignAction starts, pauses, resumes or cancels a campaign.
func (a *app) campaignAction(w http.ResponseWriter, r *http.Request) {
	action, ok := campaignActions[r.PathValue("action")]
	if !ok {
		a.errorPage(w, r, http.StatusNotFound, "There is no such action.")
		return
	}
	c, rt, ok := a.campaign(w, r)
	if !ok {
		return
	}
	err := action.run(rt, r.Context(), c.ID)
	a.audit(r, campaignAuditActions[r.PathValue("action")], resultOf(err), "campaign", idOrEmpty(c.ID), "")
	switch {
	case err == nil:
		a.log.Info("campaign "+r.PathValue("action"), "campaign", c.ID)
		a.flash(r, action.msg)
	case errors.Is(err, outreach.ErrInvalidTransition):
		a.flashError(r, fmt.Sprintf("A %s campaign cannot be %s.", c.Status, action.past))
	case errors.Is(err, outreach.ErrNoRecipients):
		a.flashError(r, "The campaign has no valid recipient to start with.")
	default:
		// Runtimes' errors say what is wrong (a number taken by a Studio
		// flow, Twilio unreachable, ...) and hold no PHI.
		a.log.Warn("campaign action failed", "action", r.PathValue("action"), "campaign", c.ID, "err", err)
		a.flashError(r, "The campaign could not be "+action.past+": "+err.Error())
	}
	http.Redirect(w, r, "/campaigns/"+strconv.FormatInt(c.ID, 10), http.StatusSeeOther)
}

// responsesFHIR streams the campaign's answers as FHIR R4
// QuestionnaireResponses, one per recipient, as NDJSON
// (fhirio.WriteResponses), read through the runtime a page at a time.
func (a *app) responsesFHIR(w http.ResponseWriter, r *http.Request) {
	c, rt, ok := a.campaign(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/fhir+ndjson")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="campaign-%d-responses.ndjson"`, c.ID))
	n, err := fhirio.WriteResponses(r.Context(), w, csvio.RuntimeSource(a.store, rt), c, fhirio.ResponseOptions{})
	a.audit(r, outreach.ActionResponsesExported, resultOf(err), "campaign", idOrEmpty(c.ID), fmt.Sprintf("fhir=%d", n))
	if err != nil {
		a.log.Error("export", "campaign", c.ID, "resources", n, "err", err)
		return // the client sees a truncated download
	}
	a.log.Info("responses exported as FHIR", "campaign", c.ID, "resources", n)
}

// responsesCSV streams the campaign's answers, one row per answer and one
// for each recipient who gave none (csvio.ExportResponses), read through
// the runtime a page of conversations at a time.
func (a *app) responsesCSV(w http.ResponseWriter, r *http.Request) {
	c, rt, ok := a.campaign(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="campaign-%d-responses.csv"`, c.ID))
	rows, err := csvio.ExportResponses(r.Context(), w, csvio.RuntimeSource(a.store, rt), c.ID)
	a.audit(r, outreach.ActionResponsesExported, resultOf(err), "campaign", idOrEmpty(c.ID), fmt.Sprintf("rows=%d", rows))
	if err != nil {
		a.log.Error("export", "campaign", c.ID, "rows", rows, "err", err)
		return // the client sees a truncated download
	}
	a.log.Info("responses exported", "campaign", c.ID, "rows", rows)
}
