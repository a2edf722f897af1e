// Package studio converts outreach flows to and from Twilio Studio flow
// definitions, and renders Studio's Liquid templates.
//
//	def, err := studio.FromFlow(flow)             // outreach.Flow -> Studio JSON
//	flow, problems, err := studio.Import(def)     // Studio JSON -> outreach.Flow, every problem
//	flow, err := studio.ToFlow(def)               // the same, without the warnings
//	text, err := studio.Render(body, vars)        // Liquid, with standard filters
//
// # Mapping
//
// The trigger widget ("Trigger") starts the flow on incomingRequest, the
// REST API trigger that Studio Executions use; its incomingMessage and
// incomingCall transitions are empty. Steps map to widgets named by the
// step id (letters, digits and '_', not starting with a digit):
//
//   - send: send-message STEP; sent goes to Next, failed ends the flow.
//   - ask: send-and-wait-for-reply STEP (timeout in seconds; timeout goes
//     to OnTimeout, deliveryFailure to OnFailure, empty meaning the flow
//     ends), then split-based-on STEP_split on {{widgets.STEP.inbound.Body}}.
//     Its match transitions start with two that end the execution on an
//     opt-out and a possible opt-out (see Opt-outs in replies), then those
//     that read a reply as the engine does (see Reading replies), then the
//     routes, then one transition saying what
//     a valid answer is, to Next: a choice answer has one matches_any_of
//     transition per choice ("YES, Y, YEAH"), to the route it satisfies or
//     Next, then one listing every choice; an integer or number answer a
//     regex for the form (IntegerPattern, NumberPattern) with greater_than
//     and less_than for its range (see Conditions); a text answer with
//     routes the regex TextPattern.
//     Studio takes the first match transition all of whose conditions hold
//     (it ANDs the conditions of a transition), so each route transition of
//     an integer, number or text answer holds those validity conditions
//     first, then the route's own: a reply that is not a valid answer, such
//     as "800" or "109.5" to an integer question from 50 to 700 whose route
//     is min 110, takes no route and is re-asked, as the engine does (a
//     choice route's matches_any_of already implies a valid answer). Its
//     noMatch goes to STEP_reask1, a send-and-wait with the hint and the
//     question and its own split STEP_reask1_split, and so on MaxReasks
//     times; the last noMatch goes to NoAnswer. A text question with no
//     routes has no split: incomingMessage goes straight to Next.
//   - branch: split-based-on STEP on the variable's Liquid; noMatch goes to
//     Next, each route is a match transition.
//   - end: send-message STEP with the body, then set-variables
//     STEP_outcome setting the variable "outcome", whose empty next ends
//     the flow; an end step with no body is just set-variables STEP.
//
// Opt-out footer: in a two-way flow, the widgets that may send a
// conversation's first message (the steps of [outreach.Flow.FirstSteps])
// get the flow's footer appended ([outreach.Flow.WithOptOut]), as the
// engine appends it; a re-ask of a first question does not. Studio
// definitions are static, so a first step that the flow visits again
// later carries the footer then too, where the engine sends it once.
// ToFlow reads the footer back off those widgets into the flow's setting:
// the default footer, or the text after the question of a first question
// whose re-ask shows where the question ends (a custom footer); a first
// message that neither ends with the footer nor mentions STOP reads back
// as NoOptOutFooter.
//
// Conditions: Studio's condition types are exactly the 17 of
// [ConditionTypes]; [Condition.Holds] evaluates them all (see there for
// what each does where Twilio's documentation is silent). Outreach
// conditions are written with three: Equals is equal_to, AnyOf
// matches_any_of (a comma list), and Min and Max, which are inclusive,
// with Studio's strict greater_than and less_than, so that Studio takes
// exactly the replies the engine does:
//
//   - a whole-number value (an integer answer, or a branch on one): a
//     whole bound one step off, any other as it is, since a whole number
//     never equals it. An integer answer from 0 to 120 whose route is 18
//     to 55: validity regex IntegerPattern, greater_than -1, less_than
//     121; the route adds greater_than 17, less_than 56.
//   - any other value (a number answer, or a branch on a data column or a
//     text or number answer): the bounds themselves, strict, and for each
//     bound a transition of its own that takes that one number however it
//     is written ("18", "18.0", "018"), a regex such as
//     ^\s*\+?0*18(\.0*)?\s*$ (with NumberPattern, in an ask's split), to
//     where the engine goes for it, placed just before the transitions of
//     the first route the bound satisfies (the answer's own bounds that no
//     route takes: just before the last transition, to Next). A number
//     answer from 10 to 80 whose route is 18 to 35 has: 18 and 35 to the
//     route; the route (NumberPattern, greater_than 10, less_than 80,
//     greater_than 18, less_than 35); 10 and 80 to Next; then NumberPattern,
//     greater_than 10, less_than 80 to Next.
//
// Reading replies: the conditions above take a reply written as a bare
// number or a choice's exact word. outreach.ReadAnswer reads more ("3!",
// "(2)", "2 please", "seven", "uno", "7/10", "7 out of 10", "pain 7",
// "it's a 7", "98.6F", "Yes 👍", "sí, por favor"), so each ask split
// first has regex transitions named "Reads as ...", anchored, that hold
// for what ReadAnswer reads with confidence and go where the engine goes
// with the value: for a choice answer one per choice (its value and
// synonyms, repeated or not, with ReadAnswer's polite filler, any case,
// Latin-1 accents, punctuation and emoji between words); for an integer
// or number answer one per route and one for the other valid values,
// each a numeral range written with the classic range-to-regex
// construction (an integer answer from 0 to 10 whose route is 0 to 5:
// 0*(?:[0-5])(?:\.0+)? for the route, 0*(?:[6-9]|10)(?:\.0+)? for the
// rest), exact for whole numbers, or a number word of that value, with
// ReadAnswer's filler words around it and its "/10", "out of 10", "de 10"
// forms. A "7/10" takes the route for 7 (a greater_than on "7/10" would be
// false). The patterns keep to what RE2, .NET and JavaScript regexes
// share (no look-around, back-references, \d, \s, \w or \p, non-ASCII
// characters written as themselves); emoji beyond U+FFFF separate words
// in Go's engine only: a UTF-16 engine asks such a reply again. Where the
// patterns cannot be exact, Studio asks again where the engine would
// have read the reply (never the reverse; TestSplitsReadAsEngine checks
// both corpora and number variants):
//
//   - a word right before a numeral ("pain7"), apostrophes other than
//     before a word's last letter ("'7'"), and "-0";
//   - a decimal with words or punctuation around it ("98.7!") within
//     the unit interval of a bound that is not a whole number (98 to 99
//     for a route from 98.6; the bare numeral is read exactly by the
//     transitions of Conditions above), and a decimal of more than 8
//     digits after the point;
//   - non-ASCII characters other than Latin-1 letters in the words and
//     the listed punctuation, dashes, quotes and dingbats (a full-width
//     digit, a letter of another script beside the answer);
//   - accented forms of ReadAnswer's filler words other than ñ ("años"
//     is read);
//   - choices one of whose words appears in another choice's phrases:
//     no "Reads as" transitions (the bare word still matches).
//
// A branch on an answer (answers.STEP) tests the reply as written
// ({{widgets.STEP.inbound.Body}}), not the value the engine read: a
// branch after a question answered "seven" takes no route in Studio.
//
// Opt-outs in replies: Twilio ends nothing itself on a message that is
// not one opt-out keyword ("please stop texting me"), while the engine
// ends a conversation as opted_out on any message outreach.ClassifyOptOut
// reads as an opt-out, and as needs_review (doubt possible_opt_out) on one
// that may be. Every ask split starts with two regex transitions named
// "Opt-out: ...", [OptOutPattern] and [MaybeOptOutPattern], with an empty
// next: the execution ends, and the collection records the opt-out from
// the reply (as for STOP) or the reply in doubt and needs_review. The
// patterns hold for whole messages only (keywords alone or with polite
// words, plain requests such as "stop texting me", "remove me from your
// list", "wrong number"), and never for a message ClassifyOptOut reads
// otherwise (TestOptOutPatterns): an opt-out they miss is read as a reply
// (and mostly asked again), and still recorded as an opt-out when the
// execution is collected. A text question with no routes has no split,
// so only Twilio's own keywords stop its execution, and any reply goes on
// to Next, where the engine asks again after a reply with no letter or
// digit (emoji only).
//
// The differential test (TestDifferentialBuiltins) runs every built-in
// flow through both runtimes with the reply corpus testdata/replies.tsv
// and finds no difference in responses, outcomes or the messages each
// phone receives (Twilio's own keyword answers aside). Known differences
// elsewhere: those listed above, and a first question visited again by a
// route back to it carries the opt-out footer again (see Opt-out footer).
//
// HELP and START (HELP, INFO, AYUDA, START, UNSTOP) while a question
// waits: Twilio answers them and passes them on; the split takes none of
// them and asks again, with the hint, as a reply in doubt; the engine
// does the same (outreach.Runner.HandleInbound), so the patient gets the
// question again in both runtimes. They are no answers: neither runtime
// records a response for them.
//
// ToFlow reads
// greater_than and less_than as such bounds, on a value that may not be
// whole only together with the transitions taking the bounds (it exports
// the reading again to check); contains, starts_with, regex, the time
// and date conditions and the others have no outreach equivalent: see
// Import. Exports before now wrote is_between, is_greater_than and
// is_less_than, types Studio does not have (Studio could not run them):
// ToFlow still reads them, and exporting the flow again writes the
// conditions above.
//
// Templates: recipient.first_name is {{flow.data.patient_first_name}},
// recipient.id {{flow.data.patient_id}}, recipient.phone
// {{contact.channel.address}} ({{flow.data.patient_phone}} and
// {{widgets.WIDGET.outbound.To}} are read as it too), data.COLUMN
// {{flow.data.COLUMN}} and answers.STEP {{widgets.STEP.inbound.Body}}.
// Outreach templates have plain variables only; [Render] evaluates any
// Liquid.
//
// # Import
//
// [Import] reads a definition into a flow and returns it with every
// [Problem] it found, each naming the widget and its type; [ToFlow] is
// Import without the list. A problem is a Warning
// when the flow still runs (in the embedded runtime, with the difference
// the warning names), an Error when it cannot be imported: two widgets of
// one name, no trigger or a second one, an initial_state that is not the
// trigger, message or split properties that do not decode, or a flow
// that does not validate. Any Error makes the flow nil and the error an *[ImportError]
// listing all the problems (errors.As finds a *[StateError] for the first
// widget at fault).
//
// Where the flow starts: the target of the trigger's incomingRequest
// transition (the REST API trigger that Studio Executions use); else of
// incomingMessage, with a Warning that the flow is meant to start when a
// patient texts in; else of incomingConversationMessage, else of the
// first other connected event (incomingCall, ...), with a Warning.
//
// Flows that patients start: a flow with an [outreach.Trigger] runs, in
// the embedded runtime, when a patient texts a keyword (or anything, with
// no keywords) to a running campaign's number (see
// [outreach.Runner.HandleInbound]). FromFlow connects the trigger's
// incomingMessage to the start step, through a split named
// [KeywordWidget] on {{trigger.message.Body}} when there are keywords
// (a regex that reads the first word as [outreach.Trigger.Matches]
// does); Import reads that split back as the keywords. Whether patients
// may start an imported flow is the embedder's choice, as pointing a
// number at a flow is in Studio: Import sets no Trigger for a definition
// whose incomingMessage goes anywhere else. The [Machine] runs a
// conversation a text started from incomingMessage, with the text as
// trigger.message (Body, From, To, MessageSid, ...) and no flow.data, as
// Studio runs an execution that a text to a number pointed at the flow
// starts (studiotest's Interpreter, in the fake, does the same). The
// Studio [Runtime] does not run flows with a Trigger: Studio starts those
// executions itself, and the Runtime collects only the ones it creates.
//
// Widget names: a widget becomes the step whose id is its name; a name
// with characters other than letters, digits and '_' (Twilio's templates
// use hyphens, e.g. get-datetime-parts) becomes an id with '_' in their
// place, made unique with "_2", "_3", ... ([StepIDs]: names that need no
// change first, then in the order of the widgets). Liquid that names a
// widget, the flow's targets, and answer collection by the Studio
// runtime all follow that mapping.
//
// Each widget reached from the trigger is read on its own, except the
// structure FromFlow writes, which is read back into the same step
// (recognised by names and shape, and kept only when exporting the step
// again gives the same widgets; route transitions without the validity
// conditions, as exports before they were added wrote them, are read too,
// and exporting the step again adds them):
//
//   - send-and-wait-for-reply: an ask step taking any text (incomingMessage
//     to Next, timeout to OnTimeout, deliveryFailure to OnFailure);
//   - split-based-on: a branch step on its input, a single variable;
//   - send-message: a send step (a failed transition that goes somewhere
//     gives a Warning: the embedded runtime ends the conversation when a
//     message fails);
//   - set-variables that only sets "outcome" and ends: an end step.
//
// What the embedded engine cannot run becomes an end step whose outcome
// says what it stands for, with a Warning saying that a conversation that
// reaches it in the embedded runtime ends there (Studio runs it when the
// flow is deployed):
//
//   - a widget of another type (make-http-request, run-function,
//     send-to-flex, say-play, gather-input-on-call, make-outgoing-call-v2,
//     connect-call-to, send-to-auto-pilot, run-subflow, ...), and a
//     set-variables that sets other variables: "unsupported: TYPE";
//   - a message whose body has Liquid beyond the plain variables above
//     (filters, tags, {{trigger.*}}, {{widgets.X.parsed...}},
//     {{flow.variables.*}}, {{flow.channel.address}}, the answer of a
//     widget that is not a question of the flow, a template that does not
//     parse) or that is sent to someone else than the contact, and a split
//     whose input is such Liquid: "unsupported: template" (never a message
//     with raw {{...}} text);
//   - a split with a condition outreach routes cannot express, with
//     several conditions on one transition, or a match transition that
//     goes nowhere: "unsupported: condition".
//
// A message's from other than {{flow.channel.address}} (a sender name,
// say) gives a Warning: the embedded runtime sends from the campaign's
// number. A transition to a widget that does not exist gives a Warning
// and goes nowhere. A widget that no transition reaches (Studio keeps
// such widgets) is left out of the flow with a Warning, and so is one
// that the flow does not reach from where it starts (reached only from
// another trigger event, or through widgets or transitions the embedded
// runtime does not take). Every export in testdata/exports, fifteen real
// flows from public repositories, imports with warnings at most.
//
// Round trips: the imported flow's Source ([outreach.Source], Format
// [SourceFormat]) holds the definition, and [FromFlow] starts from it.
// The widgets of steps that are as they were imported come back exactly
// as they are in the definition, and so do the widgets the flow does not
// represent (left out or unsupported ones), the transition order,
// offsets, friendly names, service and channel, unknown properties and
// members, the description, the initial state and the flags
// (allow_concurrent_calls false stays false): exporting an imported
// definition gives it back, equal after JSON normalisation. A step
// changed after import is exported again under its widget's name,
// keeping the widget's offset, from, to (none is added where there was
// none), unknown properties and members; a new step is added after the
// others; a removed step's widgets go; a new start rewires the trigger
// event the flow started from. [Decode] and [Definition.Encode] keep
// members they do not model, at the top and in each widget.
//
// Without a Source (a flow written by hand, a built-in flow, or one whose
// Source was dropped), FromFlow writes the mapping above, and round trips
// go through the steps: Flow -> Studio -> Flow gives the same flow up to
// these normalisations: ID and Name (they travel as the Studio flow's
// friendly name, not in the definition), a hint equal to the default hint
// reads back empty, MaxReasks 2 reads back as unset, an end step's empty
// outcome reads back "completed", a zero timeout reads back as the
// default it was exported with, an ask step's text answer with no routes
// reads back as no answer spec, and choice routes read back grouped by
// target (Equals for one choice, AnyOf for several); and the flow's
// Source is set. Studio -> Flow -> Studio, the Source dropped, gives the
// same widgets, compared in [Canonical] form.
//
// # Deploy
//
// A [Deployer] deploys definitions to a Twilio account with the twilio-go
// client: [Deployer.Deploy] exports a flow with FromFlow, checks it with
// Studio's FlowValidate endpoint (a refusal is a *[ValidationError]
// listing Twilio's failures), then updates the flow of the same friendly
// name, which adds a revision, or creates it: deploying twice gives one
// flow with a new revision, never two. [Deployer.Find], [Deployer.List]
// and [Deployer.Delete] manage deployed flows; [Deployed] carries the
// flow's webhook URL and its console link ([ConsoleFlowURL] and the SID).
// For a two-way flow, [Deployer.PointNumber] sets the sending number's
// incoming-message URL to the flow's webhook, as the blueprint did, since
// replies never reach Studio otherwise; while it points there, the
// embedded runtime's webhook sees none of that number's replies or STOPs.
// Every call honours its context and a per-call timeout.
//
// # Runtime
//
// [Runtime] runs campaigns as Studio executions and implements
// [outreach.Runtime], so the example programs drive it exactly as they
// drive the embedded [outreach.Runner]; both share one [outreach.Store],
// and each claims only the campaigns it created ([outreach.Campaign]
// Runtime). CreateCampaign deploys the flow (one Studio flow per friendly
// name, a new revision each time) and, for a two-way flow, takes the
// sending number: the store records the flow as its owner (refusing with
// a *[outreach.NumberConflictError] a number that another flow, or an
// unfinished embedded two-way campaign, holds) and the number's
// incoming-message URL is pointed at the flow. Run then creates one
// execution per recipient (To, From, and Parameters: the recipient's
// fields as flow.data, plus [ConversationParam]), at most
// [MaxExecutionsPerSecond], watches each until it ends, and collects its
// answers into the same [outreach.Response] rows the engine records, so
// the responses CSV is the same for both runtimes.
//
// What each runtime guarantees:
//
//	                          embedded (outreach.Runner)          Studio (studio.Runtime)
//	sends at most once        every message: intent recorded,    every execution: intent recorded,
//	                          then sent; reconciled after a      then created; reconciled after a
//	                          crash (Sender.Lookup)              crash (executions listed by date,
//	                                                             matched on contact and flow.data)
//	                                                             and on 409/20409; Studio sends the
//	                                                             messages itself
//	opt-out (STOP)            checked before every message;      checked when the execution is
//	                          STOP ends the conversation at      created; Twilio blocks messages to
//	                          once                               opted-out numbers (21610); a split
//	                                                             ends the execution on an opt-out
//	                                                             (OptOutPattern); replies are
//	                                                             scanned for STOP/START when the
//	                                                             execution is collected
//	quiet hours               before every message               when the execution is created only:
//	                                                             follow-up questions go out when the
//	                                                             patient answers, at any hour
//	throttle                  every message, per number          execution creations (20/s); Studio
//	                                                             paces its own messages
//	answers                   recorded as they arrive            collected when the execution ends
//	                          (reply time)                       (reply time: the step's date)
//	one two-way conversation  yes (the pair rule)                yes (Studio refuses a second active
//	per phone and number                                         execution per contact: it waits)
//	replies understood        outreach.ReadAnswer                the same, through regex conditions
//	                                                             (see Reading replies; some forms
//	                                                             are asked again)
//	pause                     stops every send at once           stops new executions; running ones
//	                                                             go on
//	cancel                    ends every conversation            ends the executions in Studio;
//	                                                             the answers they had are collected
//	progress                  conversations, messages,           conversations (pending, active,
//	                          deliveries, replies, as they       done) and outcomes; messages and
//	                          happen                             replies once each execution ends
//
// # Running Studio locally
//
// Package studio/studiotest runs executions inside the fake Twilio of
// package outreach/twiliotest: deploy a definition (or a Studio export) to
// the fake, create executions through its API, and its Interpreter sends
// the messages to simulated phones, waits for their replies, evaluates
// splits and Liquid, and fires timeouts on the fake's clock. The tests run
// the Studio runtime end to end this way, and the example programs' dev
// mode uses it. This package does not depend on the fake.
//
// make-http-request and run-function widgets run through [Calls], set by
// the embedder: requests only to the hosts it allows, Twilio Functions
// only as the Go ports it registers ([Function]), with Studio's 10-second
// limit and 64 KiB answer cap; their answers are the widget's
// status_code, content_type, body and parsed variables. An execution that
// reaches a widget type the interpreter does not run ends there, and its
// conversation's outcome is [UnsupportedOutcome] of that type.
//
// # Running Studio flows in the embedded runtime
//
// A [Machine] runs a flow imported from Studio (its Source) in the
// embedded runner exactly as Studio would run it, Liquid, splits, calls
// and all, rather than as the flow's steps:
//
//	runner := outreach.NewRunner(store, sender, outreach.RunnerOptions{
//		Machines: map[string]outreach.Machine{studio.SourceFormat: &studio.Machine{Calls: calls}},
//	})
//
// It runs [RunDefinition] of the flow, what [Deployer.Deploy] deploys,
// and records replies and outcomes as the Studio [Runtime] collects them,
// so the two runtimes give the same messages, outcomes and responses;
// the runner's guarantees (each message sent at most once, opt-outs,
// quiet hours, throttling) stay.
package studio
