package outreach

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors that callers tell apart with [errors.Is].
var (
	// ErrNotFound reports that a campaign, conversation or message does not exist.
	ErrNotFound = errors.New("outreach: not found")
	// ErrLeaseLost reports that a lease expired or was taken over by another
	// worker; the work it covered must not be continued.
	ErrLeaseLost = errors.New("outreach: lease lost")
	// ErrPairBusy reports that another two-way conversation is already active
	// for the same (patient number, sending number) pair.
	ErrPairBusy = errors.New("outreach: another two-way conversation is active for this phone and sending number")
	// ErrInvalidTransition reports a campaign status change that its
	// lifecycle does not allow (for example, resuming a cancelled campaign).
	ErrInvalidTransition = errors.New("outreach: invalid campaign status change")
	// ErrNoRecipients reports a campaign with no valid recipient to start.
	ErrNoRecipients = errors.New("outreach: no valid recipients")
	// ErrDuplicateRecipient reports recipients whose patient id repeats an
	// earlier one in the same list (see [DuplicateRecipientsError]).
	ErrDuplicateRecipient = errors.New("outreach: duplicate patient id")
)

// TransitionError is returned when a campaign cannot move from one status to
// another. It matches [ErrInvalidTransition] with [errors.Is].
type TransitionError struct {
	Campaign int64
	From, To CampaignStatus
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("outreach: campaign %d cannot go from %s to %s", e.Campaign, e.From, e.To)
}

// Is reports whether target is [ErrInvalidTransition].
func (e *TransitionError) Is(target error) bool { return target == ErrInvalidTransition }

// ErrNumberConflict reports that a sending number is owned by another
// runtime or flow: see [NumberOwner].
var ErrNumberConflict = errors.New("outreach: sending number owned by another runtime")

// NumberConflictError is returned when a campaign or a deployment would
// use a sending number that another runtime or flow owns. It matches
// [ErrNumberConflict] with [errors.Is].
type NumberConflictError struct {
	// Number is the sending number.
	Number string
	// Owner is who owns it; Wanted is who asked.
	Owner, Wanted NumberOwner
	// Reason says why, when Owner alone does not.
	Reason string
}

func (e *NumberConflictError) Error() string {
	msg := fmt.Sprintf("outreach: sending number %s is owned by %s", e.Number, e.Owner.describe())
	if e.Reason != "" {
		msg = fmt.Sprintf("outreach: sending number %s: %s", e.Number, e.Reason)
	}
	return msg + fmt.Sprintf(", so %s cannot use it: its replies and STOPs go to one place only; "+
		"use another number, or release it (for Studio: studio.Runtime.ReleaseNumber) first", e.Wanted.describe())
}

// Is reports whether target is [ErrNumberConflict].
func (e *NumberConflictError) Is(target error) bool { return target == ErrNumberConflict }

// DuplicateRecipient is one recipient whose patient id repeats an earlier
// recipient's in the same list.
type DuplicateRecipient struct {
	// Index is the recipient's position in the list (from 0); First is the
	// position of the earlier recipient with the same ID.
	Index, First int
	// ID is the repeated patient id.
	ID string
}

// DuplicateRecipientsError is returned when recipients given to create a
// campaign or add to one repeat a patient id: nothing is stored, so no
// patient is dropped unnoticed. It matches [ErrDuplicateRecipient] with
// [errors.Is]. Its message names positions, not ids (ids may be medical
// record numbers): read Duplicates for the ids.
type DuplicateRecipientsError struct {
	Duplicates []DuplicateRecipient
}

func (e *DuplicateRecipientsError) Error() string {
	const most = 5
	var b strings.Builder
	fmt.Fprintf(&b, "outreach: %d recipient(s) repeat the patient id of an earlier one, so nothing was stored; give each patient one row:", len(e.Duplicates))
	for i, d := range e.Duplicates {
		if i == most {
			fmt.Fprintf(&b, " and %d more", len(e.Duplicates)-most)
			break
		}
		if i > 0 {
			b.WriteByte(';')
		}
		fmt.Fprintf(&b, " recipient %d repeats recipient %d", d.Index+1, d.First+1)
	}
	return b.String()
}

// Is reports whether target is [ErrDuplicateRecipient].
func (e *DuplicateRecipientsError) Is(target error) bool { return target == ErrDuplicateRecipient }

// CheckRecipients reports recipients whose ID repeats an earlier one's, as
// a *[DuplicateRecipientsError]; nil when every ID is unique. Runtimes call
// it before storing a campaign's recipients.
func CheckRecipients(recipients []Recipient) error {
	first := make(map[string]int, len(recipients))
	var dups []DuplicateRecipient
	for i, r := range recipients {
		if j, ok := first[r.ID]; ok {
			dups = append(dups, DuplicateRecipient{Index: i, First: j, ID: r.ID})
			continue
		}
		first[r.ID] = i
	}
	if dups != nil {
		return &DuplicateRecipientsError{Duplicates: dups}
	}
	return nil
}
