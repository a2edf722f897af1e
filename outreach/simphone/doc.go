// Package simphone simulates a phone network of patients, so that Patient
// Outreach runs end to end with no Twilio account: in tests, in the example
// programs' dev mode, and behind the fake Twilio server.
//
// A [Network] holds simulated [Phone]s, each with a [Persona]: who answers
// and how (a [Responder] such as [Smart] or [Scripted]), how long they take,
// who never answers, who texts STOP, who cannot be reached. The network
// plays the carrier's part too: it refuses numbers that opted out (Twilio
// error 21610) or cannot be reached (21612), and reports delivery status.
//
// Messages enter the network through [Network.Deliver], or through the
// [outreach.Sender] returned by [NewSender], which adds fault injection for
// the runner's at-most-once tests. Replies leave it through [Network.Due]
// (for simulations that move an [outreach.ManualClock] by hand) or
// [Network.Run] (in real time):
//
//	clock := outreach.NewManualClock(start)
//	net := simphone.New(clock, 1)
//	net.Add("+15005550100", simphone.Persona{Responder: simphone.Smart()})
//	runner := outreach.NewRunner(store, simphone.NewSender(net), opts)
//	// ... run the runner, then:
//	if at, ok := net.NextDue(); ok {
//		clock.Set(at)
//		for _, in := range net.Due(clock.Now()) {
//			runner.HandleInbound(ctx, in)
//		}
//	}
//
// Tests inspect what happened with [Phone.Inbox], [Phone.Replies],
// [Network.CountByKey] (how many times each send key was accepted: the
// at-most-once tests expect 1) and [Network.Refusals].
//
// Everything is deterministic for a seed: each phone draws its behaviour
// and its message SIDs from a random source of its own, seeded from the
// network's seed and its number, so the order in which different phones
// are reached does not change what any one of them does.
//
// The network keeps every message in memory: it is meant for tests and
// simulations, not for unbounded runs.
package simphone
