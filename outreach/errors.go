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
