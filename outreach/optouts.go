package outreach

import "time"

// OptOutRecord is the latest opt-out change of one phone, as
// [Store.OptOuts] lists it: what an export to a CRM writes.
type OptOutRecord struct {
	// Phone is the patient's number (E.164).
	Phone string `json:"phone"`
	// OptedOut is true when the phone opted out (STOP, error 21610, an
	// import), false when it opted back in (START, UNSTOP, an import).
	OptedOut bool `json:"opted_out"`
	// At is when the change was made, in UTC.
	At time.Time `json:"changed_at"`
	// World is the world the change was made in (see [Store.SetOptOut]).
	World string `json:"world"`
}
