package studio

import (
	"regexp"
	"strings"
)

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
)

// optOutTransitions returns the transitions that start every reply split
// of an export: opt-outs and possible opt-outs end the execution.
func optOutTransitions(input string) []Transition {
	return []Transition{
		{Event: EventMatch, Conditions: []Condition{{FriendlyName: optOutName + "stop", Arguments: []string{input}, Type: CondRegex, Value: OptOutPattern}}},
		{Event: EventMatch, Conditions: []Condition{{FriendlyName: optOutName + "maybe", Arguments: []string{input}, Type: CondRegex, Value: MaybeOptOutPattern}}},
	}
}

// OptOutPattern holds for whole messages that revoke consent (see
// above): a keyword alone, STOP with polite words, plain requests, and
// the phrasings of outreach/testdata/optout_replies.tsv labelled as
// opt-outs (optOutPhrases), words separated by spaces.
// Studio compares without regard to case.
var OptOutPattern = func() string {
	var alts []string
	for _, p := range optOutPhrases {
		words := strings.Fields(p)
		for i, w := range words {
			words[i] = strings.ReplaceAll(regexp.QuoteMeta(w), "'", "['\u2019]?")
		}
		alts = append(alts, strings.Join(words, " +"))
	}
	return `^` + optEdges + `(?:` + optKeyword + `|` + optStop + `|` + optPhrase + `|` + strings.Join(alts, "|") + `)` + optEdges + `$`
}()

// optOutPhrases are messages that outreach.ClassifyOptOut reads as
// opt-outs (from its labelled corpus), lower case, words separated by
// single spaces.
var optOutPhrases = []string{
	"stop all", "remove", "arret", "arrêt", "please cancel", "no mas", "i revoke consent",
	"wrong number stop", "s t o p", "no más mensajes", "no quiero más mensajes",
	"dejen de enviarme mensajes", "no me envíen más", "stop sending me these texts",
	"stop calling and texting me", "end these messages", "cancel these text messages",
	"cancel the text reminders", "could you please stop sending me messages",
	"i want you to stop texting me", "how do i unsubscribe", "please remove my number",
	"delete my number", "take my number off your list", "lose my number",
	"i want to opt out", "opt out of these texts", "i'd like to unsubscribe",
	"unsubscribe from all messages", "do not text me", "do not contact me",
	"please don't message me again", "don't send me any more messages",
	"never text me again", "no more text messages", "no texts please",
	"i don't want these messages", "i don't want any more texts",
	"i no longer wish to receive text messages", "i dont want to get texts from you",
	"i do not consent to these texts", "i withdraw my consent",
	"i revoke my consent to be texted", "revoke consent", "leave me alone",
	"please leave me alone", "you have the wrong number", "stop wrong number",
	"no stop", "stop stop stop", "stopppp",
	"stooop", "st op", "unsubcribe", "i said stop", "just stop", "stop already",
	"stop this", "cancel please", "stop texting me i already answered",
	"i already unsubscribed stop", "alto por favor", "alto ya", "para", "basta",
	"ya basta de mensajes", "darme de baja", "quiero darme de baja", "cancelar por favor",
	"no más", "no más textos", "ya no quiero recibir mensajes",
	"no quiero recibir más mensajes", "no deseo recibir mensajes", "no me manden mensajes",
	"no me escriban más", "no me envíen mensajes por favor", "dejen de escribirme",
	"deja de mandarme mensajes", "paren de enviarme mensajes", "sáquenme de la lista",
	"quítenme de su lista", "borren mi número", "déjenme en paz", "número equivocado",
	"detener", "revoco mi consentimiento", "retiro mi consentimiento", "stop asking",
	"stop texting this number", "quit sending texts", "unsubscribe me now",
	"remove this number from your list", "don't contact me again",
	"this is the wrong number", "wrong # stop", "stop all messages", "end all texts",
	"cancel texts", "cancel appointment reminders", "basta ya", "ya no me manden mensajes",
	"por favor dejen de mandarme mensajes", "paren los mensajes", "bórrenme de la lista",
	"cancelar suscripción", "no me molesten", "dejen de molestarme", "elimínenme",
	"revoking consent", "quit bugging me", "stop spamming me", "go away", "stp texting me",
	"enough texts", "i'm done with these texts", "you need to stop texting me",
	"no need to text me anymore", "i don't need any more reminders",
	"please cancel these reminders", "opt me out of everything",
	"unsubscribe me from this study", "stop study texts", "she died stop texting",
	"stop the messages", "stop txt msgs", "stop sending texts to this number",
	"i want these texts to stop", "make these texts stop", "please make the texts stop",
	"i would like to be removed", "remove from list", "take this number off",
	"please take me off your texting list", "unsubscribe from this",
	"unsubscribe from texts", "stop contacting this number", "don't text this number again",
	"please don't send any more texts", "do not send me texts", "no more txts",
	"i do not want text messages", "i don't wish to receive these messages",
	"please stop texting thanks", "thanks but please stop texting", "stop stop",
	"wrong number please stop",
	"alto número equivocado", "no me manden más textos", "no quiero que me manden mensajes",
	"dejen de textearme", "ya no me escriban", "paren de escribirme",
	"no me envíe más mensajes por favor", "quiero darme de baja de los mensajes",
	"stop por favor", "detengan los mensajes", "no mas textos", "alto alto",
	"cancelen los mensajes", "eliminen mi numero de su lista", "quit now", "end please",
	"cancel all texts", "revoke consent to text", "i revoke my consent", "withdraw consent",
	"i withdraw consent", "stop texting me i didn't sign up for this", "stop that",
}

// MaybeOptOutPattern holds for whole messages that may revoke consent (a
// person reads them): the phrasings of outreach/testdata/optout_replies.tsv
// labelled ambiguous (maybeOptOutPhrases) and a few more, words separated
// by spaces.
var MaybeOptOutPattern = func() string {
	alts := []string{`(?:please )?don'?t stop(?: [a-z]+)+`, `stop it, wrong number`, `i quit`, `end it`, `cancel everything`,
		`no more`, `not interested`, `can you stop\?`, "\u270b", "\u26d4", "\U0001f6ab"}
	for _, p := range maybeOptOutPhrases {
		words := strings.Fields(p)
		for i, w := range words {
			words[i] = strings.ReplaceAll(regexp.QuoteMeta(w), "'", "['\u2019]?")
		}
		alts = append(alts, strings.Join(words, " +"))
	}
	return `^` + optEdges + `(?:` + strings.Join(alts, "|") + `)` + optEdges + `$`
}()

// maybeOptOutPhrases are messages that outreach.ClassifyOptOut reads as
// possible opt-outs (from its labelled corpus), lower case.
var maybeOptOutPhrases = []string{
	"stop the meds or stop the texts?", "should i stop? the rash is worse",
	"i need you to stop", "don't text me before 9am", "don't text me at work",
	"no me interesa", "stpo", "sotp", "why did you stop texting me?",
	"i don't want to unsubscribe", "should i unsubscribe?",
	"take me off the surgery waitlist", "i gave you the wrong number for my pharmacy",
	"stop texting me, the bleeding won't stop", "what happens if i stop?",
	"cancel. i'll call to reschedule", "you can stop now",
	"can you take me off the medication?", "i don't want to receive these",
	"stop hassling me", "can i stop the study?", "i'd like to stop participating",
	"the end", "enough", "this is spam", "fuck off", "no longer interested",
	"i can't make it, cancel", "take me off the waitlist for tuesday",
	"wrong number for the pharmacy?", "why do you keep texting me",
	"i didn't sign up for this", "who gave you my number", "how did you get my number",
	"i'm not the patient", "can u stop", "what does reply stop to opt out mean",
}
