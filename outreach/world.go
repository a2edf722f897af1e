package outreach

import (
	"errors"
	"fmt"
	"strings"
)

// Worlds. A world is where a campaign's messages go and its replies come
// from: one real Twilio account, the fake Twilio of a dev-mode program, a
// simulation. Two programs that share one database by accident (a CLI
// simulation and the web app, say) must never work on each other's
// campaigns: a simulation would answer real patients' conversations on
// its simulated clock. So each campaign records its world
// ([Campaign.World]) and each runtime works only in its own.
//
// The empty world is that of embedders that set none; it is a world like
// any other (a runtime of world "" claims only campaigns of world "").
const (
	// WorldDev is the world of a dev-mode program with a fake Twilio.
	WorldDev = "dev"
	// WorldSim is the world of a simulation with simulated phones, such
	// as the CLI's embedded runtime.
	WorldSim = "sim"
)

// Simulated reports whether world is a simulated one ([WorldDev],
// [WorldSim]), whose patients are simulated phones.
func Simulated(world string) bool { return world == WorldDev || world == WorldSim }

// OptInLifts reports whether an opt-in (START) made in world lifts an
// opt-out recorded in optOutWorld: when both are the same world, when the
// opt-out was simulated, or when it has the empty world (embedders that
// set none, and opt-outs recorded before worlds were) and the opt-in is
// not simulated. A START typed on a simulated phone never undoes a real
// patient's STOP (an opt-out from any world applies in every world:
// suppressing a simulated message is safe).
func OptInLifts(world, optOutWorld string) bool {
	return world == optOutWorld || Simulated(optOutWorld) || optOutWorld == "" && !Simulated(world)
}

// TwilioWorld returns the world of a real Twilio account:
// "twilio:" followed by the account SID.
func TwilioWorld(accountSID string) string { return "twilio:" + accountSID }

// Scope is the part of a store a runtime works on: the campaigns of one
// runtime (such as [RuntimeEmbedded] or "studio") in one world (see
// [Campaign.World]). [Store.ClaimDue] and [Store.NextDue] look only at
// the campaigns of a scope.
type Scope struct {
	// Runtime is the runtime's name; stores read a campaign's empty
	// Runtime as [RuntimeEmbedded], and so an empty Runtime here too.
	Runtime string
	// World is the world; empty is the world of embedders that set none.
	World string
}

// Holds reports whether c is a campaign of scope s.
func (s Scope) Holds(c Campaign) bool {
	return orEmbedded(c.Runtime) == orEmbedded(s.Runtime) && c.World == s.World
}

func orEmbedded(runtime string) string {
	if runtime == "" {
		return RuntimeEmbedded
	}
	return runtime
}

// ErrOtherWorld reports a campaign of another world than the runtime's:
// see [WorldError].
var ErrOtherWorld = errors.New("outreach: campaign of another world")

// WorldError is returned when a runtime is asked to change or run a
// campaign that another world made (see [Campaign.World]). It matches
// [ErrOtherWorld] with [errors.Is].
type WorldError struct {
	// Campaign is the campaign's ID.
	Campaign int64
	// World is the campaign's world; Runtime is the world of the runtime
	// that was asked.
	World, Runtime string
}

func (e *WorldError) Error() string {
	return fmt.Sprintf("outreach: campaign %d belongs to %s, not to this runtime's %s: "+
		"run it from the program of its world (or use a database of this world's own)",
		e.Campaign, describeWorld(e.World), describeWorld(e.Runtime))
}

// Is reports whether target is [ErrOtherWorld].
func (e *WorldError) Is(target error) bool { return target == ErrOtherWorld }

// CheckWorld returns a *[WorldError] when campaign c is not of world.
func CheckWorld(c Campaign, world string) error {
	if c.World != world {
		return &WorldError{Campaign: c.ID, World: c.World, Runtime: world}
	}
	return nil
}

// describeWorld names a world in messages.
func describeWorld(w string) string {
	switch {
	case w == "":
		return `the unnamed world ""`
	case w == WorldDev:
		return `world "dev" (a dev-mode fake Twilio)`
	case w == WorldSim:
		return `world "sim" (a simulation)`
	case strings.HasPrefix(w, "twilio:"):
		return fmt.Sprintf("world %q (a real Twilio account)", w)
	}
	return fmt.Sprintf("world %q", w)
}
