// Package outreach is the core of Patient Outreach: SMS conversations with
// patients, members and study participants, driven by flows defined as data.
//
// It holds the domain types ([Recipient], [Flow], [Campaign],
// [Conversation], [Message], [Response]), phone number normalisation
// ([NormalizePhone]) and time zones for quiet hours, the pure flow engine
// ([Advance]: state + event -> new state + actions, no I/O), and the
// [Runner], which claims due work from a [Store], renders and sends
// messages through a [Sender], and handles replies ([Runner.HandleInbound]).
//
// The package imports no provider SDK, database driver or HTTP handler:
// implementations of [Store] and [Sender] live in packages of their own
// (outreach/memstore, outreach/sqlitestore, outreach/simphone, ...), as
// database/sql drivers do.
//
// A minimal embedded campaign:
//
//	store, err := sqlitestore.Open(ctx, "outreach.db")
//	...
//	r := outreach.NewRunner(store, sender, outreach.RunnerOptions{From: "+15005550006"})
//	c, added, err := r.CreateCampaign(ctx, outreach.NewCampaign{Name: "check-in", Flow: flow}, recipients)
//	...
//	err = r.StartCampaign(ctx, c.ID)
//	go r.Run(ctx) // sends, retries, honours quiet hours and opt-outs
//
//	// and in the SMS webhook:
//	reply, err := r.HandleInbound(ctx, outreach.InboundMessage{From: ..., To: ..., Body: ..., ProviderID: ...})
//
// # Guarantees
//
// Each outbound message has a [SendKey] (conversation, step, attempt) and is
// submitted to the provider at most once: the runner records its intent in
// the store before calling the [Sender] and the outcome after. After a crash
// or an ambiguous outcome the runner asks the Sender whether the provider
// accepted it ([Sender.Lookup]) and sends only what was not accepted.
//
// Opt-out is absolute: STOP and its synonyms suppress the number across
// every campaign until START; the first message of every conversation of a
// two-way flow says so, with the flow's opt-out footer unless it already
// mentions STOP ([Flow.WithOptOut]). No message is submitted outside the
// recipient's local sending window (default 08:00-21:00); it is deferred,
// never dropped.
//
// # Audit trail
//
// Every [Store] keeps an append-only audit trail ([AuditStore]): who did
// what, to which object, when and with what result, in ids only. The
// application records each administrative action, refused ones too:
//
//	_, err := store.Append(ctx, outreach.AuditEntry{At: clock.Now(), Actor: user,
//		Action: outreach.ActionCampaignStarted, Result: outreach.ResultOK,
//		ObjectType: "campaign", ObjectID: strconv.FormatInt(c.ID, 10)})
//	entries, err := store.Audit(ctx, outreach.AuditFilter{Actor: user, Since: since})

// # Retention
//
// A [Retention] run beside the runner deletes the message texts and raw
// replies of campaigns finished more than its Period ago
// ([RetentionStore.PurgeContent]); ids, outcomes, counts, answers and
// alerts stay:
//
//	ret := &outreach.Retention{Store: store, Period: 365 * 24 * time.Hour}
//	go ret.Run(ctx) // purges now and every hour
package outreach
