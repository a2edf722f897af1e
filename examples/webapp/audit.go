package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/patient-outreach/sms/csvio"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/studio"
	"github.com/patient-outreach/sms/verify"
)

// This file keeps the audit trail (HIPAA 45 CFR 164.312(b)): every
// handler of an administrative action calls a.audit once with ids only,
// and the Audit page (GET /audit, GET /audit.csv) shows and exports it.

// auditPageSize is how many entries the Audit page shows at a time.
const auditPageSize = 200

// audit appends an entry for what the logged-in user (session key
// "user") just did through r, at a.now(). It never fails the request: a
// failed write is logged, with ids only.
func (a *app) audit(r *http.Request, action, result, objectType, objectID, detail string) {
	a.auditAs(r, a.sessions.GetString(r.Context(), "user"), action, result, objectType, objectID, detail)
}

// auditDenied records that the logged-in user was refused action on an
// object (a role without the right): call it before answering 403.
func (a *app) auditDenied(r *http.Request, action, objectType, objectID string) {
	a.audit(r, action, outreach.ResultDenied, objectType, objectID, "")
}

// deniedAction names what a refused request would have done, for its
// audit entry: the action and object the handler would have recorded,
// else ActionAccessDenied on the route.
func deniedAction(r *http.Request) (action, objectType, objectID string) {
	id := r.PathValue("id")
	switch r.Pattern {
	case "POST /campaigns/{id}/{action}":
		if past, ok := map[string]string{"start": outreach.ActionCampaignStarted, "pause": outreach.ActionCampaignPaused,
			"resume": outreach.ActionCampaignResumed, "cancel": outreach.ActionCampaignCancelled}[r.PathValue("action")]; ok {
			return past, "campaign", id
		}
	case "POST /uploads/{key}/start":
		return outreach.ActionCampaignCreated, "", ""
	case "GET /optouts.csv":
		return outreach.ActionOptOutsExported, "", ""
	case "POST /optouts":
		return outreach.ActionOptOutsImported, "", ""
	case "POST /flows/{id}/deploy":
		return outreach.ActionFlowDeployed, "flow", id
	case "POST /flows/{id}/undeploy", "POST /flows/{id}/delete":
		return outreach.ActionFlowDeleted, "flow", id
	case "POST /campaigns/{id}/alerts/{alert}/ack":
		return outreach.ActionAlertAcknowledged, "alert", r.PathValue("alert")
	case "POST /alerts/{alert}/ack":
		return outreach.ActionAlertAcknowledged, "alert", r.PathValue("alert")
	case "POST /users":
		return outreach.ActionUserCreated, "", ""
	case "POST /users/{name}", "POST /users/{name}/password":
		return outreach.ActionUserChanged, "user", r.PathValue("name")
	case "GET /audit":
		return outreach.ActionAuditViewed, "", ""
	case "GET /audit.csv":
		return outreach.ActionAuditExported, "", ""
	}
	return outreach.ActionAccessDenied, "route", r.Pattern
}

// auditAs is audit for a given actor: the name typed at a failed login.
// An empty actor is recorded as "anonymous".
func (a *app) auditAs(r *http.Request, actor, action, result, objectType, objectID, detail string) {
	if actor == "" {
		actor = "anonymous"
	}
	e := outreach.AuditEntry{At: a.now(), Actor: actor, Action: action, Result: result,
		ObjectType: objectType, ObjectID: objectID, Client: maskClient(r.RemoteAddr), Detail: detail}
	// A live context: what was done is recorded even if the client left.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	if _, err := a.store.Append(ctx, e); err != nil {
		a.log.Error("audit entry not recorded", "action", action, "result", result, "object_type", objectType, "object_id", objectID, "err", err)
	}
}

// resultOf is the audit result of an action that returned err.
func resultOf(err error) string {
	if err != nil {
		return outreach.ResultFailed
	}
	return outreach.ResultOK
}

// campaignAuditActions maps the campaign page's actions to audit actions.
var campaignAuditActions = map[string]string{
	"start":  outreach.ActionCampaignStarted,
	"pause":  outreach.ActionCampaignPaused,
	"resume": outreach.ActionCampaignResumed,
	"cancel": outreach.ActionCampaignCancelled,
}

// loginFailure is the audit detail of a failed login: the step and why,
// never what was typed.
func loginFailure(err error, codeStep bool) string {
	step := "password"
	if codeStep {
		step = "code"
	}
	var locked *verify.LockedOutError
	why := "error"
	switch {
	case errors.Is(err, verify.ErrWrongPassword):
		why = "wrong_password"
	case errors.Is(err, verify.ErrWrongCode):
		why = "wrong_code"
	case errors.Is(err, verify.ErrExpired):
		why = "expired"
	case errors.As(err, &locked):
		why = "locked_out"
	case errors.Is(err, verify.ErrTooManyCodes):
		why = "too_many_codes"
	}
	return "step=" + step + " reason=" + why
}

// maskClient returns the client's address without its host part: an
// IPv4 address keeps its first three bytes (192.0.2.x), an IPv6 address
// its first four groups (2001:db8:1:2::x).
func maskClient(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip := net.ParseIP(host)
	switch {
	case ip == nil:
		return ""
	case ip.To4() != nil:
		v4 := ip.To4()
		return fmt.Sprintf("%d.%d.%d.x", v4[0], v4[1], v4[2])
	default:
		n := (&net.IPNet{IP: ip.Mask(net.CIDRMask(64, 128)), Mask: net.CIDRMask(64, 128)}).IP.String()
		return strings.TrimSuffix(n, "::") + "::x"
	}
}

// auditView is what the Audit page shows.
type auditView struct {
	Filter  auditQuery
	Entries []outreach.AuditEntry
	Actions []string
	Next    string // the query of the next page; empty on the last
	CSV     string // the query of the CSV download
	Problem string // a filter that could not be read
}

// auditQuery is the Audit page's filter form as typed.
type auditQuery struct {
	Actor, Action, Object, Since, Until string
	After                               int64
}

// parseAuditQuery reads the filters of the Audit page and its CSV
// download: actor, action, object ("campaign" or "campaign:12"), since
// and until (dates, inclusive, in the server's zone, or RFC 3339 times),
// after (an entry id).
func parseAuditQuery(v url.Values) (auditQuery, outreach.AuditFilter, error) {
	q := auditQuery{
		Actor: strings.TrimSpace(v.Get("actor")), Action: strings.TrimSpace(v.Get("action")),
		Object: strings.TrimSpace(v.Get("object")), Since: strings.TrimSpace(v.Get("since")), Until: strings.TrimSpace(v.Get("until")),
	}
	f := outreach.AuditFilter{Actor: q.Actor, Action: q.Action}
	f.ObjectType, f.ObjectID, _ = strings.Cut(q.Object, ":")
	var err error
	if f.Since, err = parseAuditTime(q.Since, false); err != nil {
		return q, f, fmt.Errorf("since: %w", err)
	}
	if f.Until, err = parseAuditTime(q.Until, true); err != nil {
		return q, f, fmt.Errorf("until: %w", err)
	}
	if s := v.Get("after"); s != "" {
		if q.After, err = strconv.ParseInt(s, 10, 64); err != nil || q.After < 0 {
			return q, f, errors.New("after must be an entry number")
		}
		f.AfterID = q.After
	}
	return q, f, nil
}

// parseAuditTime reads a date (YYYY-MM-DD, in the server's zone; end:
// the start of the next day, so that the date is included) or an RFC
// 3339 time.
func parseAuditTime(s string, end bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.ParseInLocation(time.DateOnly, s, time.Local)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date such as 2026-03-02", s)
	}
	if end {
		d = d.AddDate(0, 0, 1)
	}
	return d, nil
}

// encode is the query string of q, with after as given.
func (q auditQuery) encode(after int64) string {
	v := url.Values{}
	for k, s := range map[string]string{"actor": q.Actor, "action": q.Action, "object": q.Object, "since": q.Since, "until": q.Until} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if after > 0 {
		v.Set("after", strconv.FormatInt(after, 10))
	}
	return v.Encode()
}

// auditActions lists the actions the page's filter offers.
var auditActions = []string{
	outreach.ActionLoginSucceeded, outreach.ActionLoginFailed, outreach.ActionUserCreated, outreach.ActionUserChanged,
	outreach.ActionFlowDeployed, outreach.ActionFlowDeleted,
	outreach.ActionCampaignCreated, outreach.ActionCampaignStarted, outreach.ActionCampaignPaused,
	outreach.ActionCampaignResumed, outreach.ActionCampaignCancelled, outreach.ActionResponsesExported,
	outreach.ActionOptOutsImported, outreach.ActionOptOutsExported, outreach.ActionAlertAcknowledged,
	outreach.ActionAuditViewed, outreach.ActionAuditExported,
}

// auditPage shows the audit trail, filtered, a page at a time.
func (a *app) auditPage(w http.ResponseWriter, r *http.Request) {
	q, f, err := parseAuditQuery(r.URL.Query())
	v := auditView{Filter: q, Actions: auditActions, CSV: q.encode(0)}
	status := http.StatusOK
	if err != nil {
		v.Problem = "The filter could not be read: " + err.Error() + "."
		status = http.StatusBadRequest
	} else {
		f.Limit = auditPageSize + 1
		es, err := a.store.Audit(r.Context(), f)
		if err != nil {
			a.internalError(w, r, "reading the audit trail", err)
			return
		}
		if len(es) > auditPageSize {
			es = es[:auditPageSize]
			v.Next = q.encode(es[len(es)-1].ID)
		}
		v.Entries = es
	}
	a.audit(r, outreach.ActionAuditViewed, outreach.ResultOK, "", "", fmt.Sprintf("entries=%d", len(v.Entries)))
	a.render(w, r, status, "audit", pageData{Title: "Audit trail", Nav: "audit", Page: v})
}

// auditCSV downloads the audit entries the filters select.
func (a *app) auditCSV(w http.ResponseWriter, r *http.Request) {
	_, f, err := parseAuditQuery(r.URL.Query())
	if err != nil {
		a.errorPage(w, r, http.StatusBadRequest, "The filter could not be read: "+err.Error()+".")
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="audit.csv"`)
	rows, err := csvio.ExportAudit(r.Context(), w, a.store, f)
	a.audit(r, outreach.ActionAuditExported, resultOf(err), "", "", fmt.Sprintf("rows=%d", rows))
	if err != nil {
		a.log.Error("audit export", "rows", rows, "err", err)
		return // the client sees a truncated download
	}
}

// deployDetail is the audit detail of a deployment to Studio: the
// revision made, if any.
func deployDetail(d studio.Deployed, err error) string {
	if err != nil {
		return "to studio"
	}
	return fmt.Sprintf("to studio, revision %d", d.Revision)
}

// idOrEmpty is id in decimal, or empty for zero (nothing was created).
func idOrEmpty(id int64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatInt(id, 10)
}
