package studio

// optOutName starts the friendly name of the conditions of the
// transitions that catch opt-outs in a reply split (see
// optOutTransitions).
const optOutName = "Opt-out: "

// Opt-outs in replies. Twilio stops a conversation itself only on a
// message that is one opt-out keyword; the engine ends it on any message
// outreach.ClassifyOptOut reads as an opt-out ("please stop texting me")
// and sends one that may be one ("don't stop", "STOP IT, wrong number")
// to a person. Each reply split of an export starts with two transitions
// that do the same in Studio, each a regex of whole messages: OptOutPattern
// ends the execution (collect records the opt-out from the reply, as for
// STOP), MaybeOptOutPattern too (collect records the reply in doubt,
// possible_opt_out, and the outcome needs_review). They are narrower than
// ClassifyOptOut (a test checks that everything they hold is what it says
// they are): a message ClassifyOptOut reads so that they miss is read as
// an answer, and most often asked again.
const (
	optSep   = `[ .,!;:]`
	optEdges = `[ .,!;:"]*`
	// optKeyword are the keywords that revoke consent on their own:
	// Twilio's defaults, the FCC's and Spanish.
	optKeyword = `(?:stop|stopall|unsubscribe|cancel|end|quit|revoke|optout|opt out|alto|parar|baja|cancelar)`
	// optStop is STOP with polite words around it.
	optStop = `(?:(?:please|pls|yes|ok)` + optSep + `+)?stop(?:` + optSep + `+(?:please|pls|plz|now|it|thanks|thank you))*`
	// optPhrase are plain requests to stop texting.
	optPhrase = `(?:(?:please )?(?:stop|quit) (?:texting|messaging|txting|contacting|sending) (?:me|us)(?: (?:messages|texts))?(?: anymore| now| please)*` +
		`|(?:please )?(?:remove|unsubscribe) me(?: from (?:your|the|this) list)?(?: please)?` +
		`|(?:please )?take me off (?:your|the|this) list(?: please)?` +
		`|(?:please )?opt me out(?: please)?` +
		`|no more (?:texts|messages)(?: please)?` +
		`|wrong number` +
		`|(?:please )?don'?t (?:text|message) me(?: anymore)?(?: please)?)`
	// OptOutPattern holds for whole messages that revoke consent (see
	// above). Studio compares without regard to case.
	OptOutPattern = `^` + optEdges + `(?:` + optKeyword + `|` + optStop + `|` + optPhrase + `)` + optEdges + `$`
	// MaybeOptOutPattern holds for whole messages that may revoke consent:
	// a person reads them.
	MaybeOptOutPattern = `^` + optEdges + `(?:(?:please )?don'?t stop(?: [a-z]+)+|stop it, wrong number|i quit|end it|cancel everything|no more|not interested|can you stop\?|` +
		"\u270b|\u26d4|\U0001f6ab" + `)` + optEdges + `$`
)

// optOutTransitions returns the transitions that start every reply split
// of an export: opt-outs and possible opt-outs end the execution.
func optOutTransitions(input string) []Transition {
	return []Transition{
		{Event: EventMatch, Conditions: []Condition{{FriendlyName: optOutName + "stop", Arguments: []string{input}, Type: CondRegex, Value: OptOutPattern}}},
		{Event: EventMatch, Conditions: []Condition{{FriendlyName: optOutName + "maybe", Arguments: []string{input}, Type: CondRegex, Value: MaybeOptOutPattern}}},
	}
}
