// Package twiliotest is a fake Twilio for tests and dev mode: a REST API
// on a loopback [httptest.Server] that speaks the parts of Twilio that
// Patient Outreach uses, as Twilio does (JSON shapes, HTTP Basic auth,
// error bodies and codes, pagination, signed webhooks), and delivers
// messages to the simulated phones of outreach/simphone.
//
// Drive it with the real twilio-go client: [Server.Client] returns one
// whose HTTP transport sends every request (api.twilio.com,
// verify.twilio.com, pagination links) to the fake.
//
//	clock := outreach.NewManualClock(start)
//	net := simphone.New(clock, 1)
//	net.Add("+14155550100", simphone.Persona{Responder: simphone.Smart()})
//	srv := twiliotest.New(twiliotest.Options{Clock: clock, Network: net, Numbers: []string{"+15005550006"}})
//	defer srv.Close()
//	srv.SetSmsURL("+15005550006", webhookURL) // or through the API
//
//	params := &openapi.CreateMessageParams{}
//	params.SetFrom("+15005550006").SetTo("+14155550100").SetBody("Hi!").SetStatusCallback(statusURL)
//	msg, err := srv.Client().Api.CreateMessage(params)
//
//	// Move time and deliver what is due: status callbacks and replies,
//	// POSTed and signed with X-Twilio-Signature.
//	for at, ok := srv.Next(); ok; at, ok = srv.Next() {
//		clock.Set(at)
//		err = srv.Step(ctx, at)
//	}
//
// or, in real time, go srv.Run(ctx).
//
// What it serves:
//   - Messages (2010 API): create (From or MessagingServiceSid, To, Body,
//     StatusCallback, ValidityPeriod), fetch, list with To, From, DateSent,
//     DateSent< and DateSent> filters and pagination. The simulated network
//     refuses with Twilio's codes: 21211 invalid To, 21610 opted out (STOP),
//     21612 unreachable; the fake adds 21602, 21603, 21604, 21606 (From not
//     on the account), 21624 (ValidityPeriod) and 21701 (unknown service).
//   - Status callbacks: queued, sent ([SentDelay] later), then delivered or
//     undelivered with an ErrorCode ([simphone.ReportDelay] after creation),
//     optionally out of order and twice (Options.ReorderCallbacks and
//     DuplicateCallbacks). A message's status never moves backwards.
//   - IncomingPhoneNumbers: list, fetch, update (SmsUrl). A phone's text to
//     a provisioned number is recorded as an inbound message and POSTed to
//     the number's incoming-message URL, or, when that URL is the webhook
//     of a Studio flow the fake holds (https://webhooks.twilio.com/v1/Accounts/{AccountSid}/Flows/{FlowSid}),
//     handed to the flow's active execution for the sender through a
//     [ReplyRunner]; with no active execution it starts one, from the
//     trigger's incomingMessage, with the text as trigger.message. The
//     incoming-message URL is the number's SmsUrl, unless the number is in
//     the sender pool of a Messaging Service that has an InboundRequestUrl
//     and UseInboundWebhookOnNumber false: then it is the service's
//     InboundRequestUrl (and the webhook carries MessagingServiceSid).
//   - Keywords, as Twilio handles them on long codes: a text of STOP,
//     STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE or OPTOUT opts the
//     phone out of the number texted (creates from it to the phone are
//     refused with 21610, [Server.OptedOut]) and is answered with
//     [OptOutConfirmation]; START, UNSTOP (and YES from an opted-out
//     phone) opt it back in, answered with [OptInConfirmation]. The text
//     still goes on to the webhook. HELP and INFO are answered with
//     [HelpResponse] (not to a phone that opted out), and still go on to
//     the webhook, whose TwiML may answer too. Opt-outs are kept per
//     number (Twilio keeps a Messaging Service's for its whole pool).
//   - TwiML answers of incoming-message webhooks: each <Message> is sent
//     from the number texted to the phone that texted (Direction
//     "outbound-reply", no status callback); an answer that is not XML is
//     a webhook error (Twilio's 12100).
//   - Messaging v1 Services ([Server.AddMessagingService] creates them):
//     list, fetch and update (https://messaging.twilio.com/v1/Services/{Sid}:
//     FriendlyName, InboundRequestUrl, InboundMethod, FallbackUrl,
//     FallbackMethod, StatusCallback, UseInboundWebhookOnNumber; other
//     parameters are accepted and ignored; bad values get 400, code 20001).
//     [Server.SetServiceInboundURL] sets the inbound URL directly.
//   - Verify v2: services (create, list, fetch), verifications (create,
//     fetch; 10-minute expiry, at most 5 sends) and verification checks (at
//     most 5, then canceled). [Server.VerifyCode] reads the code.
//   - Studio v2: flows (create, update, fetch, list, delete; every
//     update a new revision, draft or published), flow revisions (list,
//     fetch by number, LatestPublished or LatestRevision), FlowValidate.
//     Create, update and FlowValidate check the definition as Studio does
//     (package studio/schema: Twilio's flow-definition schema, a schema
//     per widget type with its required properties, property types,
//     transition events and split condition types, unique widget names,
//     transitions to existing widgets, initial_state naming the trigger);
//     an invalid definition gets 400, code 81022, every failure in
//     details.errors as {message, property_path}, and changes nothing.
//     Stored definitions are compacted. Executions (create with To, From and
//     Parameters; fetch; list newest first by status and
//     DateCreatedFrom/To; update to ended; delete), execution context
//     and steps. A second active execution of a flow for one contact is
//     refused with 409, code 20409; creates beyond
//     Options.ExecutionsPerSecond in a second of the clock with 429, code
//     20429, Retry-After: 1. The fake stores executions; an
//     [ExecutionRunner] (Options.Studio; studiotest.Interpreter interprets
//     the definitions) runs them, reporting through
//     [Server.UpdateExecution] and [Server.AddExecutionStep], timing with
//     [Server.AfterFunc] and taking replies as a [ReplyRunner].
//   - Timers on the server's clock ([Server.AfterFunc]), run by
//     [Server.Step] with the texts from phones, in time order.
//   - Errors: 401 (code 20003) without the account's credentials, 404
//     (code 20404) for unknown resources and routes, Twilio error bodies.
//   - Faults per endpoint ([Server.SetFault]): latency, 429 with
//     Retry-After (code 20429), 500 (code 20500), and the ambiguous case:
//     the request is processed, then the connection is dropped unanswered.
//     [Server.AddFault] with Fault.Probability mixes them at random (say
//     10% 429, 5% 500, 2% dropped after the message was accepted);
//     [Server.FaultCounts] tells how many requests got each.
//
// [Sign] and [NewWebhookRequest] sign webhook requests as Twilio does, for
// tests of webhook handlers.
//
// Not served yet: Studio test users, Studio executions started by an
// incoming message (the trigger's incomingMessage), media, message
// update/delete, SmsMethod and InboundMethod GET (webhooks are always
// POSTed), Messaging Service create and delete and their sender pool
// resources (PhoneNumbers; a number in two pools belongs to the first
// created), fallback URLs, the dropping of texts to a service that has
// neither an InboundRequestUrl nor UseInboundWebhookOnNumber (the fake
// falls back to the number's SmsUrl), the Verify channels' actual
// delivery (codes are not texted to the phones).
package twiliotest
