package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/patient-outreach/sms/csvio"
	"github.com/patient-outreach/sms/fhirio"
	"github.com/patient-outreach/sms/outreach"
)

// An uploaded recipients file is written, as it arrives, to the store's
// named files (outreach.FileStore), never to a temporary file, and read
// back once for the preview (its counts, its first problems and
// recipients), which is kept with it as its metadata; when the operator
// starts the campaign, on whichever instance of the app, the file is
// taken (so that two starts make one campaign) and read again, and its
// rows are stored as they are read, in batches. Neither reading holds
// the rows in memory, so MAX_UPLOAD_BYTES alone limits a file. The
// upload's key is random and is also kept in the uploader's session
// (which lives in the database too); its name in the store holds the
// user's name, and its metadata the user, so no one else can use it, and
// no recipient ever travels in a form field. Uploads expire after an
// hour: they are purged then, by any instance, when a file is uploaded
// and every purgeInterval.

const (
	uploadTTL = time.Hour
	// maxUploads is how many uploads waiting for their start a user may
	// have in the store (a session has one; a user may have several
	// sessions): a new one deletes that user's oldest beyond it. Each is
	// at most MAX_UPLOAD_BYTES, and all expire after uploadTTL.
	maxUploads = 10
	// uploadPrefix begins the store's name of every upload.
	uploadPrefix = "uploads/"
	// purgeInterval is how often the app deletes expired uploads.
	purgeInterval = 10 * time.Minute
	// maxShownProblems is how many row errors, and how many warnings, the
	// preview lists; it counts the rest.
	maxShownProblems = 200
)

// upload is an uploaded file waiting for its start: the metadata kept
// with the file in the store.
type upload struct {
	Key string `json:"key"`
	// User is the name of the user who uploaded it: only they may use it.
	User     string `json:"user"`
	FileName string `json:"file_name"`
	FlowID   string `json:"flow_id"`
	FlowName string `json:"flow_name"`
	// Flow is the flow as it was when the file was uploaded.
	Flow    *outreach.Flow `json:"flow"`
	Runtime string         `json:"runtime"`
	Name    string         `json:"name"`
	Result  uploadSummary  `json:"result"`
	// RequireConsent is the new campaign form's "Require a consent
	// column": rows without consent are among Result's errors.
	RequireConsent bool      `json:"require_consent"`
	Created        time.Time `json:"created"`
	// FHIR is set for FHIR Patients rather than a CSV file.
	FHIR bool `json:"fhir"`
}

// uploadName is the store's name of the upload key of user.
func uploadName(user, key string) string {
	return uploadUserPrefix(user) + key
}

// uploadUserPrefix begins the store's names of user's uploads.
func uploadUserPrefix(user string) string {
	return uploadPrefix + url.PathEscape(user) + "/"
}

// decodeUpload reads an upload's metadata.
func decodeUpload(f outreach.FileInfo) (*upload, error) {
	var up upload
	if err := json.Unmarshal(f.Meta, &up); err != nil {
		return nil, fmt.Errorf("the upload's metadata: %w", err)
	}
	if up.Flow == nil {
		return nil, errors.New("the upload's metadata has no flow")
	}
	return &up, nil
}

// uploadSummary is what the preview shows of a recipients file.
type uploadSummary struct {
	Rows, BadRows, Valid     int
	ErrorCount, WarningCount int
	// Errors and Warnings are the first maxShownProblems of each.
	Errors, Warnings []shownProblem
	// First are the first previewRows valid recipients.
	First []outreach.Recipient
}

// shownProblem is a row error or warning as the preview shows it.
type shownProblem struct {
	Line     int    `json:"line"`
	Column   string `json:"column,omitempty"`
	Resource string `json:"resource,omitempty"`
	Err      string `json:"err"`
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

func appendShown(shown []shownProblem, more []*csvio.RowError) []shownProblem {
	for _, e := range more[:min(len(more), maxShownProblems-len(shown))] {
		p := shownProblem{Line: e.Line, Column: e.Column, Resource: e.Resource}
		if e.Err != nil {
			p.Err = e.Err.Error()
		}
		shown = append(shown, p)
	}
	return shown
}

// rows returns a reader of the rows of the upload's file, read from f.
// The error refuses the file as a whole.
func (up *upload) rows(a *app, f io.Reader) (csvio.RowReader, error) {
	if up.FHIR {
		// FHIR R4 Patients (Bulk Data NDJSON or a Bundle): the same
		// rows and row errors, naming the element.
		return fhirio.NewReader(f, fhirio.Options{Now: a.now()})
	}
	return csvio.NewRecipientReader(f, csvio.Options{MaxBytes: a.cfg.MaxUploadBytes, MaxRows: -1, RequireConsent: up.RequireConsent})
}

// summarize reads the upload's file, stored as name, for its preview.
func (up *upload) summarize(ctx context.Context, a *app, name string) error {
	_, f, err := a.store.OpenFile(ctx, name, time.Now())
	if err != nil {
		return err
	}
	defer f.Close()
	rr, err := up.rows(a, f)
	if err != nil {
		return err
	}
	return csvio.EachRow(ctx, rr, func(row csvio.Row) error {
		up.Result.add(row)
		return nil
	})
}

// purgeUploads deletes the expired uploads (every expired file of the
// store: only uploads expire). Any instance may do it for all.
func (a *app) purgeUploads(ctx context.Context) {
	n, err := a.store.PurgeFiles(ctx, time.Now())
	switch {
	case err != nil:
		a.log.Warn("purge expired uploads", "err", err)
	case n > 0:
		a.log.Info("expired uploads deleted", "files", n)
	}
}

// purgeUploadsEvery purges the expired uploads every purgeInterval until
// ctx ends.
func (a *app) purgeUploadsEvery(ctx context.Context) {
	tick := time.NewTicker(purgeInterval)
	defer tick.Stop()
	for {
		a.purgeUploads(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// limitUploads deletes user's oldest uploads beyond maxUploads.
func (a *app) limitUploads(ctx context.Context, user string) {
	list, err := a.store.ListFiles(ctx, uploadUserPrefix(user), time.Now())
	if err != nil {
		a.log.Warn("list uploads", "err", err)
		return
	}
	if len(list) <= maxUploads {
		return
	}
	slices.SortFunc(list, func(x, y outreach.FileInfo) int { return x.Created.Compare(y.Created) })
	for _, f := range list[:len(list)-maxUploads] {
		if err := a.store.DeleteFile(ctx, f.Name); err != nil && !errors.Is(err, outreach.ErrNotFound) {
			a.log.Warn("delete an old upload", "err", err)
		}
	}
}

// errFileTooLarge is the error of an uploaded file over MAX_UPLOAD_BYTES.
var errFileTooLarge = errors.New("the file is larger than MAX_UPLOAD_BYTES")

// maxReader reads r, failing with errFileTooLarge after n bytes.
type maxReader struct {
	r io.Reader
	n int64 // bytes that may still be read
}

func (m *maxReader) Read(p []byte) (int, error) {
	if m.n < 0 {
		return 0, errFileTooLarge
	}
	if int64(len(p)) > m.n+1 {
		p = p[:m.n+1]
	}
	n, err := m.r.Read(p)
	m.n -= int64(n)
	if m.n < 0 {
		return n, errFileTooLarge
	}
	return n, err
}

type newCampaignView struct {
	Flows      []flowEntry
	Runtimes   []string
	FlowID     string
	MaxUpload  string
	NumberNote string
}

func (a *app) newCampaignPage(w http.ResponseWriter, r *http.Request) {
	entries, err := a.flows.list(r.Context())
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

// uploadRecipients writes the uploaded file into the store as it
// arrives (read from the request part by part, so that it never lands
// in a temporary file), reads it back once for the preview and shows
// it. Nothing is sent before the operator confirms.
func (a *app) uploadRecipients(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	limit := a.cfg.MaxUploadBytes + 64<<10
	if r.ContentLength > limit {
		a.tooLarge(w, r)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	incomplete := func() {
		a.flashError(r, "The upload did not arrive complete. Try again.")
		http.Redirect(w, r, "/campaigns/new", http.StatusSeeOther)
	}
	mr, err := r.MultipartReader()
	if err != nil {
		incomplete()
		return
	}
	user := a.sessions.GetString(ctx, "user")
	now := time.Now()
	up := &upload{Key: rand.Text(), User: user, Created: now}
	name := uploadName(user, up.Key)
	stored, kept := false, false
	defer func() {
		if !stored || kept {
			return
		}
		// Refused, or the request failed: the file goes at once.
		if err := a.store.DeleteFile(context.WithoutCancel(ctx), name); err != nil && !errors.Is(err, outreach.ErrNotFound) {
			a.log.Warn("delete a refused upload", "upload", up.Key[:6], "err", err)
		}
	}()
	fields := map[string]string{}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			a.tooLarge(w, r)
			return
		} else if err != nil {
			incomplete()
			return
		}
		field := part.FormName()
		if field == "recipients" && part.FileName() != "" && !stored {
			up.FileName = filepath.Base(part.FileName())
			up.FHIR = fhirUpload(up.FileName)
			meta, err := json.Marshal(up)
			if err != nil {
				a.internalError(w, r, "encoding the upload", err)
				return
			}
			_, err = a.store.PutFile(ctx, outreach.FileInfo{Name: name, Meta: meta, Created: now, Expires: now.Add(uploadTTL)},
				&maxReader{r: part, n: a.cfg.MaxUploadBytes})
			switch {
			case errors.Is(err, errFileTooLarge) || errors.As(err, &mbe):
				a.tooLarge(w, r)
				return
			case err != nil && ctx.Err() == nil && !errors.Is(err, io.ErrUnexpectedEOF):
				a.internalError(w, r, "keeping the upload", err)
				return
			case err != nil:
				incomplete()
				return
			}
			stored = true
			continue
		}
		if _, seen := fields[field]; !seen && field != "recipients" {
			b, err := io.ReadAll(io.LimitReader(part, 64<<10))
			if err != nil {
				incomplete()
				return
			}
			fields[field] = string(b)
		}
	}
	back := "/campaigns/new?flow=" + url.QueryEscape(fields["flow"])
	e, ok := a.flows.get(ctx, fields["flow"])
	if !ok {
		a.flashError(r, "Pick a flow.")
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	up.FlowID, up.FlowName, up.Flow = e.ID, e.Title(), e.Flow
	up.Runtime = fields["runtime"]
	if _, ok := a.runtimes[up.Runtime]; !ok {
		a.flashError(r, "Pick a runtime.")
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	if !stored {
		a.flashError(r, "Choose the CSV file of recipients.")
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	up.RequireConsent = fields["require_consent"] != ""
	if err := up.summarize(ctx, a, name); err != nil {
		if up.FHIR {
			a.flashError(r, up.FileName+": "+err.Error())
			http.Redirect(w, r, back, http.StatusSeeOther)
			return
		}
		a.csvReadError(w, r, err, up.FileName, back, "")
		return
	}
	up.Name = strings.TrimSpace(fields["name"])
	if up.Name == "" {
		up.Name = e.Title() + ", " + a.now().UTC().Format("Jan 2 15:04 UTC")
	}
	if len(up.Name) > 200 {
		up.Name = up.Name[:200]
	}
	meta, err := json.Marshal(up)
	if err == nil {
		err = a.store.SetFileMeta(ctx, name, meta, time.Now())
	}
	if err != nil {
		a.internalError(w, r, "keeping the upload", err)
		return
	}
	// One pending upload per session: a new one replaces the last.
	if prev := a.sessions.GetString(ctx, "upload"); prev != "" {
		if err := a.store.DeleteFile(ctx, uploadName(user, prev)); err != nil && !errors.Is(err, outreach.ErrNotFound) {
			a.log.Warn("delete the session's previous upload", "err", err)
		}
	}
	a.sessions.Put(ctx, "upload", up.Key)
	kept = true
	a.limitUploads(ctx, user)
	a.purgeUploads(ctx)
	a.log.Info("recipients uploaded", "upload", up.Key[:6], "rows", up.Result.Rows, "bad_rows", up.Result.BadRows, "warnings", up.Result.WarningCount)
	http.Redirect(w, r, "/uploads/"+up.Key, http.StatusSeeOther)
}

// fhirUpload reports whether an uploaded file holds FHIR Patients rather
// than a CSV: by its name, .ndjson or .json.
func fhirUpload(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".ndjson" || ext == ".json"
}

// uploadGone answers a request for an upload that is not (or no longer)
// the session's.
func (a *app) uploadGone(w http.ResponseWriter, r *http.Request) {
	a.errorPage(w, r, http.StatusNotFound, "This upload has expired or was already used. Upload the file again.")
}

// ownUpload returns the session's upload named in the path and its name
// in the store: the session's last upload, by its user.
func (a *app) ownUpload(w http.ResponseWriter, r *http.Request) (*upload, string, bool) {
	key := r.PathValue("key")
	user := a.sessions.GetString(r.Context(), "user")
	if key == "" || a.sessions.GetString(r.Context(), "upload") != key {
		a.uploadGone(w, r)
		return nil, "", false
	}
	name := uploadName(user, key)
	f, err := a.store.StatFile(r.Context(), name, time.Now())
	if errors.Is(err, outreach.ErrNotFound) {
		a.uploadGone(w, r)
		return nil, "", false
	} else if err != nil {
		a.internalError(w, r, "reading the upload", err)
		return nil, "", false
	}
	up, err := decodeUpload(f)
	if err != nil {
		a.internalError(w, r, "reading the upload", err)
		return nil, "", false
	}
	if up.User != user || up.Key != key {
		a.uploadGone(w, r)
		return nil, "", false
	}
	return up, name, true
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
	up, _, ok := a.ownUpload(w, r)
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

// confirmCampaign takes the upload from the store (on whichever instance
// of the app: of two starts, one takes it, the other finds it used),
// creates the campaign through its runtime, storing the file's valid
// rows as it reads them, and starts it.
func (a *app) confirmCampaign(w http.ResponseWriter, r *http.Request) {
	up, name, ok := a.ownUpload(w, r)
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
	// Taken, so that a second click, here or on another instance, finds
	// the upload used.
	ctx := r.Context()
	f, file, err := a.store.TakeFile(ctx, name, time.Now())
	if errors.Is(err, outreach.ErrNotFound) {
		a.uploadGone(w, r)
		return
	} else if err != nil {
		a.internalError(w, r, "taking the upload", err)
		return
	}
	defer file.Close()
	if up, err = decodeUpload(f); err != nil || up.User != a.sessions.GetString(ctx, "user") {
		// Replaced between the two reads: not this session's any more.
		_ = a.store.PutBackFile(context.WithoutCancel(ctx), name)
		a.uploadGone(w, r)
		return
	}
	c, added, err := a.createFromUpload(ctx, rt, up, file)
	a.audit(r, outreach.ActionCampaignCreated, resultOf(err), "campaign", idOrEmpty(c.ID), fmt.Sprintf("runtime=%s recipients=%d", up.Runtime, added))
	if err != nil {
		a.log.Warn("create campaign", "runtime", up.Runtime, "err", err)
		a.flashError(r, "The campaign could not be created: "+err.Error())
		// Put back, so that the operator can start it again.
		if perr := a.store.PutBackFile(context.WithoutCancel(ctx), name); perr != nil {
			a.log.Warn("put back the upload", "upload", up.Key[:6], "err", perr)
		}
		http.Redirect(w, r, "/uploads/"+up.Key, http.StatusSeeOther)
		return
	}
	if err := a.store.DeleteFile(context.WithoutCancel(ctx), name); err != nil && !errors.Is(err, outreach.ErrNotFound) {
		a.log.Warn("delete the used upload; it is purged when it expires", "upload", up.Key[:6], "err", err)
	}
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
// stored in batches as file, the upload's content, is read again. A
// campaign whose rows could not all be stored is cancelled, so that no
// one starts it half made; the error says so.
func (a *app) createFromUpload(ctx context.Context, rt outreach.Runtime, up *upload, file io.Reader) (outreach.Campaign, int, error) {
	rr, err := up.rows(a, file)
	if err != nil {
		return outreach.Campaign{}, 0, err
	}
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
	if _, name, ok := a.ownUpload(w, r); ok {
		if err := a.store.DeleteFile(r.Context(), name); err != nil && !errors.Is(err, outreach.ErrNotFound) {
			a.internalError(w, r, "deleting the upload", err)
			return
		}
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
