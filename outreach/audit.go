package outreach

import (
	"context"
	"time"
)

// Audit actions: what an [AuditEntry] records that someone did. They are
// dotted names, object first; an entry's Result says whether it was
// done, refused or failed.
const (
	ActionLoginSucceeded    = "login.succeeded"
	ActionLoginFailed       = "login.failed"
	ActionUserCreated       = "user.created"
	ActionUserChanged       = "user.changed"
	ActionFlowDeployed      = "flow.deployed"
	ActionFlowDeleted       = "flow.deleted"
	ActionCampaignCreated   = "campaign.created"
	ActionCampaignStarted   = "campaign.started"
	ActionCampaignPaused    = "campaign.paused"
	ActionCampaignResumed   = "campaign.resumed"
	ActionCampaignCancelled = "campaign.cancelled"
	ActionResponsesExported = "responses.exported"
	ActionOptOutsImported   = "optouts.imported"
	ActionOptOutsExported   = "optouts.exported"
	ActionAlertAcknowledged = "alert.acknowledged"
	ActionAuditViewed       = "audit.viewed"
	ActionAuditExported     = "audit.exported"
	// ActionAccessDenied is a refused request that none of the actions
	// above names (its detail says which).
	ActionAccessDenied = "access.denied"
)

// Audit results: whether the action was done, refused (the actor may
// not do it) or tried and failed.
const (
	ResultOK     = "ok"
	ResultDenied = "denied"
	ResultFailed = "failed"
)

// ActorSystem is the Actor of what the service does by itself.
const ActorSystem = "system"

// AuditEntry is one record of the audit trail (HIPAA 45 CFR 164.312(b)):
// who did what, to which object, when, and with what result. It holds
// ids only, never PHI: no patient names, phone numbers, replies, message
// bodies, campaign names, passwords or codes.
type AuditEntry struct {
	// ID is assigned by the store, increasing in the order of Append.
	ID int64 `json:"id"`
	// At is when it happened (stored and returned in UTC).
	At time.Time `json:"at"`
	// Actor is the user name, or [ActorSystem] for the service itself;
	// never empty.
	Actor string `json:"actor"`
	// Action is one of the Action constants, such as [ActionCampaignStarted].
	Action string `json:"action"`
	// Result is [ResultOK], [ResultDenied] or [ResultFailed].
	Result string `json:"result"`
	// ObjectType and ObjectID name what it was done to, such as
	// "campaign" and "12"; both empty when there is no object.
	ObjectType string `json:"object_type,omitempty"`
	ObjectID   string `json:"object_id,omitempty"`
	// Client says where the request came from, as the application gives
	// it (a masked IP address, "cli").
	Client string `json:"client,omitempty"`
	// Detail is a short note without PHI: counts, runtime names.
	Detail string `json:"detail,omitempty"`
}

// AuditFilter selects audit entries. Zero fields select everything.
type AuditFilter struct {
	// Since and Until bound At: Since <= At < Until.
	Since, Until time.Time
	// Actor, Action, ObjectType and ObjectID must match exactly.
	Actor, Action, ObjectType, ObjectID string
	// AfterID selects entries with ID > AfterID: call again with the last
	// ID seen to page through the trail.
	AfterID int64
	// Limit caps how many entries come back (zero or less: no limit).
	Limit int
}

// Match reports whether e is selected by f, paging aside (AfterID and
// Limit are not looked at). Stores may use it to filter.
func (f AuditFilter) Match(e AuditEntry) bool {
	switch {
	case !f.Since.IsZero() && e.At.Before(f.Since),
		!f.Until.IsZero() && !e.At.Before(f.Until),
		f.Actor != "" && e.Actor != f.Actor,
		f.Action != "" && e.Action != f.Action,
		f.ObjectType != "" && e.ObjectType != f.ObjectType,
		f.ObjectID != "" && e.ObjectID != f.ObjectID:
		return false
	}
	return true
}

// AuditStore is the part of a [Store] that keeps the audit trail. It is
// append-only: there is no way to change or remove an entry through it.
type AuditStore interface {
	// Append stores e, assigning its ID, and returns it as stored (At in
	// UTC). An empty Actor or Action is an error; an empty Result is
	// stored as [ResultOK].
	Append(ctx context.Context, e AuditEntry) (AuditEntry, error)
	// Audit lists the entries f selects in ID order (the order they were
	// appended).
	Audit(ctx context.Context, f AuditFilter) ([]AuditEntry, error)
}

// CheckAuditEntry returns e ready to store (an empty Result made
// [ResultOK], At in UTC), or an error when it lacks an Actor, an Action
// or a time. Stores call it in Append.
func CheckAuditEntry(e AuditEntry) (AuditEntry, error) {
	switch {
	case e.Actor == "":
		return e, &AuditError{Reason: "the entry has no actor: use the user name, or " + ActorSystem + " for the service"}
	case e.Action == "":
		return e, &AuditError{Reason: "the entry has no action"}
	case e.At.IsZero():
		return e, &AuditError{Reason: "the entry has no time"}
	}
	if e.Result == "" {
		e.Result = ResultOK
	}
	e.At = e.At.UTC()
	return e, nil
}

// AuditError says why an audit entry was refused.
type AuditError struct {
	Reason string
}

func (e *AuditError) Error() string { return "outreach: audit entry refused: " + e.Reason }
