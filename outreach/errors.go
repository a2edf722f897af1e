package outreach

import (
	"errors"
	"fmt"
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
