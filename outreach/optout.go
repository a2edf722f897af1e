package outreach

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// OptOutClass is what [ClassifyOptOut] makes of an inbound message.
type OptOutClass int

// Results of [ClassifyOptOut].
const (
	// NotOptOut: the message is not a request to stop messages (an
	// answer, a question, a remark). "no", "I stopped smoking", "should I
	// stop the medication?", "cancel my appointment?".
	NotOptOut OptOutClass = iota
	// OptOut: the message revokes consent: a carrier or FCC keyword
	// ("STOP", "s t o p", "ＳＴＯＰ", "🛑"), or a phrase a reasonable person
	// reads as "stop texting me" in English or Spanish ("please remove
	// me", "don't text me anymore", "ALTO", "no quiero más mensajes").
	OptOut
	// OptOutAmbiguous: the message may or may not revoke consent ("can
	// you stop?", "stop the meds or stop the texts?", "i quit", "✋").
	// It is neither an opt-out nor an answer: a person must read it.
	OptOutAmbiguous
)

// String returns "not", "optout" or "ambiguous", the labels of
// testdata/optout_replies.tsv.
func (c OptOutClass) String() string {
	switch c {
	case NotOptOut:
		return "not"
	case OptOut:
		return "optout"
	case OptOutAmbiguous:
		return "ambiguous"
	}
	return "OptOutClass(?)"
}

// ClassifyOptOut reads an inbound message as the law reads it: does the
// patient revoke consent to be texted?
//
// Sources (quoted in testdata/optout_replies.tsv as well):
//
//   - Twilio's default opt-out keywords, honoured for long codes when the
//     whole message is the keyword: STOP, STOPALL, UNSUBSCRIBE, CANCEL, END,
//     QUIT, REVOKE, OPTOUT ("Customize users' opt-in and opt-out experience
//     with Advanced Opt-Out", twilio.com/docs/messaging/tutorials/advanced-opt-out).
//     Twilio's support article on STOP filtering (help.twilio.com, article
//     223134027) adds that only single-word messages trigger the block:
//     "STOP PLEASE" or "PLEASE CANCEL" do not. Twilio handles English only;
//     other languages are left to Advanced Opt-Out's custom keywords, so
//     Spanish is ours to read.
//   - The FCC's consent-revocation order (Report and Order FCC 24-24 in CG
//     Docket 02-278, Federal Register doc 2024-04587, adding 47 CFR
//     64.1200(a)(10)): revocation may be made by any reasonable means; a
//     reply of "stop", "quit", "end", "revoke", "opt out", "cancel" or
//     "unsubscribe" is definitively a revocation, and other wording counts
//     when a reasonable person would read it as one (the totality of the
//     circumstances).
//   - CTIA Messaging Principles and Best Practices: opt-out requests in
//     normal language ("stop", "end", "unsubscribe", "cancel", "quit",
//     "please opt me out") should be read and acted upon.
//   - Compliance commentary on the FCC rule (e.g. CompliancePoint on the
//     rule language) names other languages ("No Mas" in Spanish); AWS End
//     User Messaging and Twilio Proxy also take REMOVE, OPT-OUT and the
//     French ARRET.
//
// What opts out at once:
//
//   - a whole message (or a sentence of its own, for STOP and its Spanish
//     forms) made of a keyword and polite words: "STOP", "Stop!!", "STOP
//     NOW", "please stop", "stop it", "wrong number, stop", "I'm fine.
//     STOP"; in any case, spaced or dotted ("S T O P", "s.t.o.p"), with
//     repeated letters ("stoppp"), in full-width or other compatibility
//     forms (Unicode NFKD), with diacritics or zero-width characters, as
//     regional-indicator letters, or as the stop-sign emoji 🛑;
//   - clear phrases in English and Spanish: "stop texting me", "remove me
//     from your list", "take me off your list", "don't text me anymore",
//     "no more messages", "I revoke consent", "unsubscribe me", "opt me
//     out", "wrong number", "ALTO", "PARAR", "BAJA", "cancelar", "no más",
//     "no quiero más mensajes", "dejen de enviarme mensajes", "no me envíen
//     más", "sáquenme de la lista", "darme de baja".
//
// What is ambiguous: STOP inside a longer sentence that is not plainly
// about something else ("can you stop?"), an opt-out phrase beside a
// clinical use of the same verb ("stop the meds or stop the texts?"), a
// negated or conditional phrase ("don't stop texting me", "don't text me
// before 9"), a bare "i quit" / "end it" / "cancel everything", "no more",
// "not interested", "✋", "⛔", "🚫", near misses of STOP ("stpo"), and
// complaints ("why do you keep texting me?", "who gave you my number?",
// "this is spam", "I'm not the patient").
// ✋ and friends are ambiguous rather than opt-outs: a raised hand also
// means "wait" or "I have a question", and the FCC's test is what a
// reasonable person would read; 🛑 is the stop sign itself.
//
// A phone's reaction to one of our messages (`Liked “... Reply STOP to opt
// out.”`) quotes our text: only what the patient added is read.
//
// Everything else is not an opt-out, notably ordinary answers that contain
// the keywords: "no", "not now", "I stopped smoking", "should I stop the
// medication?", "cancel my appointment?", "the pain won't stop", "end of
// the week works", "quit smoking last year", "stop sign", "presión baja".
//
// It allocates little (the normalised text, and Unicode normalisation for
// non-ASCII messages) and runs on every inbound message.
func ClassifyOptOut(body string) OptOutClass {
	body = stripReaction(body)
	var bufArr [256]byte
	b := appendOptOutText(bufArr[:0], body)
	if len(b) == 0 {
		return NotOptOut
	}
	s := string(b)
	var arr [48]optTok
	toks := optTokens(arr[:0], s)
	if len(toks) == 0 {
		return NotOptOut
	}
	return classifyOptTokens(toks)
}

// reactionPrefixes start the text a phone sends for a reaction (an iMessage
// "tapback", or its SMS rendering on Android) to one of our messages,
// followed by our message in quotes: `Liked “... Reply STOP to opt out.”`.
var reactionPrefixes = []string{
	"Liked ", "Loved ", "Laughed at ", "Emphasized ", "Questioned ", "Disliked ", "Reacted ",
	"Le gustó ", "Le encantó ", "Se rió de ", "Enfatizó ", "Cuestionó ", "No le gustó ", "Reaccionó ",
}

// stripReaction returns what a reaction adds beyond the message it quotes
// (usually nothing), or body when it is not a reaction: the quoted text is
// ours, and its "Reply STOP" is not the patient's. The prefix is matched in
// any case, as every other rule is.
func stripReaction(body string) string {
	for _, p := range reactionPrefixes {
		if len(body) < len(p) || !strings.EqualFold(body[:len(p)], p) {
			continue
		}
		open := strings.IndexAny(body[len(p):], "“\"")
		if open < 0 || open > 24 { // "Reacted 👍 to “"
			return body
		}
		if end := strings.LastIndexAny(body, "”\""); end > len(p)+open {
			_, size := utf8.DecodeRuneInString(body[end:])
			return body[end+size:]
		}
		return body
	}
	return body
}

// parseOptInHelp reads a whole message as START/UNSTOP (opt back in) or
// HELP/INFO/AYUDA (help), in any case, spacing and punctuation, with the
// same Unicode folding as [ClassifyOptOut].
//
// Only Twilio's default opt-in keywords opt back in. Twilio also takes
// YES after STOP, which this library does not: YES is an answer to our
// questions, and resuming texts without a clear request is the costly
// mistake. No Spanish opt-in word is taken for the same reason. AYUDA is
// taken as HELP: asking for help costs nothing.
func parseOptInHelp(body string) Keyword {
	var bufArr [64]byte
	b := appendOptOutText(bufArr[:0], body)
	// Letters only: "start!", "S T A R T", "un-stop".
	n := 0
	for _, c := range b {
		if c != ' ' && c != '.' {
			if n >= 8 {
				return NoKeyword
			}
			b[n] = c
			n++
		}
	}
	switch string(b[:n]) {
	case "start", "unstop":
		return KeywordStart
	case "help", "info", "ayuda":
		return KeywordHelp
	}
	return NoKeyword
}

// optTok is a word of a message and the number of its clause (the text
// between two of . ! ? , ; : or a line break).
type optTok struct {
	w      string
	clause int
	class  int      // from optWords
	f      optFlags // from optLex
}

// Tokens made from symbols. They start with '#', which the normalised text
// never holds otherwise.
const (
	tokHand = "#hand" // ✋ 🤚 ⛔ 🚫: ambiguous on their own
)

// appendOptOutText appends to b the message in lower case, with words
// separated by ' ', clause boundaries marked by '.', apostrophes removed
// ("don't" -> "dont"), diacritics and compatibility forms folded
// ("ＳＴＯＰ", "Ⓢ", "𝐒𝐓𝐎𝐏" -> "stop", "más" -> "mas"), and the emoji that
// say stop spelled out.
func appendOptOutText(b []byte, body string) []byte {
	ascii := true
	for i := 0; i < len(body); i++ {
		if body[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		for i := 0; i < len(body); i++ {
			b = appendOptOutByte(b, body[i])
		}
		return b
	}
	for _, r := range body {
		if r < utf8.RuneSelf {
			b = appendOptOutByte(b, byte(r))
			continue
		}
		if c := latin1Fold(r); c != 0 {
			// Spanish and other Latin-1 text folds without Unicode
			// normalisation.
			b = appendOptOutByte(b, c)
			continue
		}
		// Compatibility decomposition, rune by rune (the same as
		// normalising the whole text, since the marks that reordering
		// would move are dropped), from the tables, without allocating.
		var rb [utf8.UTFMax]byte
		d := norm.NFKD.Properties(rb[:utf8.EncodeRune(rb[:], r)]).Decomposition()
		if d == nil {
			b = appendOptOutRune(b, r)
			continue
		}
		for len(d) > 0 {
			dr, size := utf8.DecodeRune(d)
			d = d[size:]
			b = appendOptOutRune(b, dr)
		}
	}
	return b
}

// appendOptOutRune appends a rune of a decomposed text as
// appendOptOutText does.
func appendOptOutRune(b []byte, r rune) []byte {
	switch {
	case r < utf8.RuneSelf:
		return appendOptOutByte(b, byte(r))
	case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf):
		return b // combining accents, variation selectors, zero-width joiners
	case unicode.IsLetter(r) || unicode.IsDigit(r):
		return utf8.AppendRune(b, unicode.ToLower(r))
	case r == '\u2019' || r == '\u2018' || r == '\u02bc':
		return b // typographic apostrophes
	case r == '\U0001F6D1': // 🛑 octagonal sign
		return append(b, " stop "...)
	case r == '\u270b' || r == '\U0001F91A' || r == '\u26d4' || r == '\U0001F6AB': // ✋ 🤚 ⛔ 🚫
		return append(b, " "+tokHand+" "...)
	case '\U0001F1E6' <= r && r <= '\U0001F1FF': // regional indicator letters
		return append(b, byte('a'+r-'\U0001F1E6'))
	case r == '\u2026' || r == '\u3002' || r == '\u2028' || r == '\u2029':
		return append(b, '.') // … 。 and line breaks end a sentence
	}
	return append(b, ' ')
}

// latin1Fold returns the ASCII character a Latin-1 letter or Spanish
// punctuation folds to ('á' -> 'a', 'Ñ' -> 'N', '¿' -> '?', '’' -> '\”),
// or 0 for any other rune.
func latin1Fold(r rune) byte {
	switch r {
	case 'á', 'à', 'â', 'ä', 'ã', 'å':
		return 'a'
	case 'Á', 'À', 'Â', 'Ä', 'Ã', 'Å':
		return 'A'
	case 'é', 'è', 'ê', 'ë':
		return 'e'
	case 'É', 'È', 'Ê', 'Ë':
		return 'E'
	case 'í', 'ì', 'î', 'ï':
		return 'i'
	case 'Í', 'Ì', 'Î', 'Ï':
		return 'I'
	case 'ó', 'ò', 'ô', 'ö', 'õ':
		return 'o'
	case 'Ó', 'Ò', 'Ô', 'Ö', 'Õ':
		return 'O'
	case 'ú', 'ù', 'û', 'ü':
		return 'u'
	case 'Ú', 'Ù', 'Û', 'Ü':
		return 'U'
	case 'ñ':
		return 'n'
	case 'Ñ':
		return 'N'
	case 'ç':
		return 'c'
	case 'Ç':
		return 'C'
	case '¿', '¡':
		return '.' // they open a sentence
	case '\u2019', '\u2018', '\u00b4':
		return '\''
	case '\u00a0': // no-break space
		return ' '
	}
	return 0
}

// appendOptOutByte appends an ASCII character as appendOptOutText does.
func appendOptOutByte(b []byte, c byte) []byte {
	switch {
	case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		return append(b, c)
	case 'A' <= c && c <= 'Z':
		return append(b, c+'a'-'A')
	case c == '\'' || c == '`':
		return b // joined: "don't" is "dont"
	case c == '.' || c == '!' || c == '?' || c == ',' || c == ';' || c == ':' || c == '\n' || c == '\r':
		return append(b, '.')
	}
	return append(b, ' ')
}

// optTokens splits normalised text into words with their clause numbers.
func optTokens(toks []optTok, s string) []optTok {
	clause := 0
	start := -1
	for i := 0; i <= len(s); i++ {
		var c byte = ' '
		if i < len(s) {
			c = s[i]
		}
		if c == ' ' || c == '.' {
			if start >= 0 {
				toks = append(toks, optTok{w: s[start:i], clause: clause})
				start = -1
			}
			if c == '.' {
				clause++
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	return toks
}

// Word classes.
const (
	wNone = iota
	// wStopKW: STOP and the words that mean it (English and Spanish); a
	// message or a sentence made of one of them and polite words opts out.
	wStopKW
	// wWholeKW: a keyword that opts out only as the whole message: END,
	// CANCEL, QUIT, REMOVE, BAJA, ALTO ("high"), PARA ("for")...
	wWholeKW
	// wStrong: opts out wherever it stands, unless negated: UNSUBSCRIBE,
	// OPTOUT, REVOKE, STOPALL.
	wStrong
	// wPolite: words that may surround a keyword: please, now, thanks.
	wPolite
)

var optWords = map[string]int{
	// Twilio/FCC keywords and STOP in Spanish.
	"stop": wStopKW, "alto": wWholeKW, "parar": wStopKW, "paren": wStopKW, "pare": wStopKW,
	"detener": wStopKW, "detengan": wStopKW, "detenga": wStopKW, "basta": wStopKW,
	"halt": wStopKW, "cease": wStopKW,
	"end": wWholeKW, "cancel": wWholeKW, "quit": wWholeKW, "remove": wWholeKW,
	"arret": wWholeKW, "arrete": wWholeKW, "baja": wWholeKW, "para": wWholeKW,
	"cancelar": wWholeKW, "nomas": wWholeKW, "unsub": wWholeKW, "desuscribir": wStrong,
	"unsubscribe": wStrong, "optout": wStrong, "revoke": wStrong, "stopall": wStrong,
	"revoco": wStrong, "revocar": wStrong, "revoking": wStrong, "revoked": wStrong, "detenganse": wStopKW, "desuscribirme": wStrong, "unsubscribed": wStrong,
	// Polite words and noise around a keyword.
	"please": wPolite, "pls": wPolite, "plz": wPolite, "plse": wPolite, "pleas": wPolite,
	"now": wPolite, "right": wPolite, "immediately": wPolite, "asap": wPolite,
	"thanks": wPolite, "thank": wPolite, "you": wPolite, "thx": wPolite, "ty": wPolite,
	"thankyou": wPolite, "ok": wPolite, "okay": wPolite, "k": wPolite, "already": wPolite,
	"just": wPolite, "said": wPolite, "again": wPolite, "sorry": wPolite,
	"hello": wPolite, "hi": wPolite, "hey": wPolite, "seriously": wPolite, "really": wPolite,
	"yes": wPolite, "no": wPolite, "y": wPolite, "n": wPolite, "omg": wPolite,
	"por": wPolite, "favor": wPolite, "porfavor": wPolite, "porfa": wPolite, "xfa": wPolite,
	"ya": wPolite, "gracias": wPolite, "ahora": wPolite, "mismo": wPolite, "si": wPolite,
	"dije": wPolite, "hola": wPolite, "inmediatamente": wPolite,
}

// stopObjects may follow a STOP keyword in a whole message: "stop it",
// "stop this", "stop all", "basta ya".
var stopObjects = map[string]bool{
	"it": true, "this": true, "that": true, "all": true, "these": true, "esto": true, "eso": true, "todo": true,
	"i":     true, // "I said stop", but not "I quit"
	tokHand: true, // "stop ✋"
}

// optCollapsed finds keywords and polite words written with repeated
// letters ("stoppp", "pleeease"): the key is the word with every run of a
// letter collapsed to one.
var optCollapsed = func() map[string]string {
	m := map[string]string{}
	for w, class := range optWords {
		if class == wPolite && len(w) < 4 {
			continue
		}
		var buf [32]byte
		m[string(collapseRuns(buf[:0], w))] = w
	}
	return m
}()

func collapseRuns(b []byte, w string) []byte {
	for i := 0; i < len(w); i++ {
		if i > 0 && w[i] == w[i-1] {
			continue
		}
		b = append(b, w[i])
	}
	return b
}

// contactNouns are what a patient asks to stop: texts, messages, calls.
var contactNouns = set(
	"text", "texts", "texting", "txt", "txts", "txting", "message", "messages", "messaging", "msg", "msgs",
	"sms", "sending", "send", "contacting", "contact", "calling", "calls", "bothering", "spam", "spamming",
	"notifications", "notification", "reminders", "alerts", "robotexts", "robocalls", "emails", "outreach",
	"mensajes", "mensaje", "textos", "texto", "enviar", "enviarme", "enviarnos", "mandar", "mandarme",
	"escribir", "escribirme", "escribiendome", "molestar", "molestarme", "notificaciones", "recordatorios",
	"llamar", "llamarme", "contactar", "contactarme", "textear", "textearme", "mensajear", "mensajearme",
	"enviando", "mandando", "escribiendo", "suscripcion", "subscription", "bugging", "harassing", "pestering",
	"hounding", "annoying", "asking", "molestarnos", "molestandome",
)

// stopVerbs start "stop texting me": the verb, a few filler words, a
// contact noun. Those marked true need "de" next ("with" after "done") ("dejen de enviarme",
// "para de escribir"), since "dejen mensaje" is "leave a message" and
// "para enviar" is "in order to send".
var stopVerbs = map[string]bool{
	"stop": false, "quit": false, "cease": false, "end": false, "halt": false, "cancel": false,
	"discontinue": false, "parar": false, "paren": false, "pare": false, "detener": false,
	"detengan": false, "detenga": false, "cancelar": false, "cancelen": false, "terminar": false,
	"terminen": false, "suspender": false, "suspendan": false, "stp": false, "enough": false,
	"done": true, // "done with these texts"
	"para": true, "deja": true, "dejen": true, "dejar": true, "deje": true, "dejes": true, "basta": true,
}

// weakVerbs are stop verbs with other common uses ("end of", "cancel my
// appointment", "quit smoking"): they need a plural contact noun.
var weakVerbs = set("end", "cancel", "quit", "cancelar", "cancelen", "terminar", "terminen", "halt")

// pluralContact are the contact nouns a weak verb takes.
var pluralContact = set(
	"texts", "texting", "txts", "messages", "messaging", "msgs", "notifications", "reminders", "alerts",
	"robotexts", "calls", "spam", "outreach", "mensajes", "textos", "notificaciones", "recordatorios",
	"suscripcion", "subscription", "sending", "contacting", "calling", "bothering", "spamming", "enviarme",
	"mandarme", "enviar", "mandar", "escribirme", "bugging", "harassing", "pestering", "hounding", "annoying",
	"asking",
)

// verbFill may stand between a stop verb and its contact noun.
var verbFill = set(
	"the", "these", "those", "this", "all", "your", "ur", "my", "any", "further", "future", "more", "with",
	"me", "us", "of", "automated", "text", "de", "los", "las", "el", "la", "estos", "estas", "esos", "esas",
	"sus", "su", "mis", "todos", "todas", "mas", "a", "me", "nos", "tus",
)

// negators before a phrase make it ambiguous: "don't stop texting me".
var negators = set("dont", "not", "never", "didnt", "doesnt", "wont", "cant", "cannot", "shouldnt", "should", "shall", "if")

// subjects before a stop verb make it a statement or a question about
// someone, not a request: "why did you stop texting me?".
var subjects = set("did", "they", "we", "he", "she", "it", "i", "will", "would", "does", "yo", "ella", "el")

// politeAsk before "you": "can you stop texting me" is a request.
var politeAsk = set("can", "could", "would", "will", "pls", "please", "plz", "cn")

// contactVerbs follow "don't" in "don't text me".
var contactVerbs = set("text", "txt", "message", "msg", "contact", "sms", "call", "bother", "email", "spam", "send", "texting", "messaging")

// contactVerbsES follow "no" in "no me envíen más".
var contactVerbsES = set(
	"envien", "envies", "envie", "envia", "mande", "manden", "mandes", "manda", "escriban", "escriba",
	"escribas", "texteen", "textee", "contacten", "contacte", "llamen", "llame", "molesten", "moleste",
	"sigan", "vuelvan", "mandan", "envian", "escriben",
)

// closing words may end an opt-out phrase without making it conditional:
// "don't text me again please", "no me envíen más mensajes por favor".
var closing = set(
	"me", "us", "again", "anymore", "any", "more", "ever", "please", "pls", "plz", "thanks", "thank", "you",
	"this", "number", "here", "at", "ok", "okay", "stop", "texts", "messages", "text", "message", "no",
	"longer", "phone", "ty", "thx", "now", "mas", "mensajes", "textos", "por", "favor", "gracias", "nunca",
	"otra", "vez", "ya", "nada", "este", "numero", "a", "nos", "sms", "ningun", "mensaje", "texto",
	"porfavor", "alone", "dont", "anything", "else", "stuff", "whatsoever", "period", "enviando",
	"mandando", "escribiendo",
)

// removeVerbs start "remove me (from your list)".
var removeVerbs = set("remove", "delete", "erase", "unenroll", "unsubscribe", "take", "lose", "opt", "unlist")

// removeObjects follow a remove verb.
var removeObjects = set("me", "us", "my", "this", "our")

// listWords end "remove me from your list".
var listWords = set(
	"list", "lists", "texting", "messaging", "mailing", "contact", "contacts", "system", "database", "texts",
	"messages", "program", "line", "roster", "registry", "outreach", "alerts", "notifications", "sms",
	"study", "number", "phone", "info", "information", "out", "off", "from", "of", "the", "your", "ur",
	"this", "these", "all", "text", "reminders", "everything", "it",
)

// sacarES are the Spanish "take me off" verbs, with the pronoun attached
// after NFKD removes the accent ("sáquenme" -> "saquenme").
var sacarES = set(
	"saquenme", "sacame", "saqueme", "sacarme", "quitenme", "quiteme", "quitame", "quitarme", "borrenme",
	"borrame", "borreme", "borrarme", "eliminenme", "eliminame", "elimineme", "eliminarme",
)

// sacarObjES are the verbs that take "mi número": "borren mi número".
var sacarObjES = set("borren", "eliminen", "quiten", "saquen", "borrar", "eliminar", "quitar", "sacar", "borra", "elimina")

// listWordsES end "sáquenme de la lista".
var listWordsES = set(
	"de", "del", "la", "su", "sus", "esta", "este", "el", "los", "las", "mi", "lista", "sistema", "base",
	"datos", "mensajes", "textos", "programa", "estudio", "registro", "numero", "telefono", "contactos",
)

// wantVerbs follow a negation in "I don't want (to get) texts".
var wantVerbs = set("want", "wish", "like", "need", "quiero", "deseo", "necesito", "quiere", "queremos")

// wantFill may stand between want and the contact noun.
var wantFill = set(
	"to", "receive", "get", "have", "any", "more", "these", "those", "your", "the", "further", "future",
	"recibir", "mas", "estos", "sus", "los", "ningun", "ningunos", "tus", "esos", "seguir", "recibiendo",
	"getting", "receiving", "them", "anymore", "nomas", "all", "of",
)

// Words that show a STOP inside a sentence is about something else: the
// word before ("the pain won't stop", "bus stop") or, past articles, the
// word after ("stop the medication", "stop by", "stop sign").
var (
	stopBefore = set(
		"wont", "doesnt", "didnt", "cant", "cannot", "couldnt", "wouldnt", "isnt", "not", "never", "bus",
		"pit", "last", "next", "first", "full", "truck", "one", "rest", "non", "pain", "bleeding", "it",
		"swelling", "cough", "coughing", "nausea", "vomiting", "diarrhea", "itching", "headache", "puedo",
		"puede", "no", "dolor", "sangrado", "hiccups", "bleed", "will", "quick", "short", "final",
	)
	stopSkip = set(
		"the", "my", "this", "that", "these", "those", "your", "a", "an", "all", "taking", "using", "el",
		"la", "los", "las", "mi", "mis", "de", "tomar", "usar", "his", "her", "their", "our", "any",
	)
	stopAfter = set(
		"by", "in", "at", "over", "sign", "signs", "light", "lights", "for", "on", "off", "there", "here",
		"smoking", "drinking", "vaping", "eating", "taking", "bleeding", "hurting", "working", "using",
		"medication", "medications", "meds", "med", "medicine", "medicines", "pill", "pills", "treatment",
		"dose", "doses", "dosing", "insulin", "antibiotics", "antibiotic", "therapy", "drug", "drugs",
		"inhaler", "aspirin", "ibuprofen", "tylenol", "prednisone", "metformin", "chemo", "dialysis", "diet",
		"exercise", "exercising", "blood", "thinner", "thinners", "pain", "it", "them", "prescription",
		"birth", "statin", "statins", "medicamento", "medicamentos", "medicina",
		"medicinas", "pastilla", "pastillas", "tratamiento", "dosis", "insulina", "fumar", "tomar",
		"tomarlo", "tomarla", "sangrado", "dolor", "toser", "beber", "comer", "cold", "turkey",
		"to", "before", "after", "when", "until", "once",
		"breathing", "wheezing", "coughing", "shaking", "crying", "vomiting", "sneezing",
	)
	// wholeObjects after END/CANCEL/QUIT mean something else: "cancel my
	// appointment", "quit smoking", "end of".
	wholeObjects = set(
		"appointment", "appointments", "appt", "visit", "cita", "citas", "surgery", "procedure", "order",
		"refill", "prescription", "smoking", "drinking", "vaping", "job", "work", "of", "cirugia", "consulta",
		"meds", "medication", "pills", "insulin", "program", "call", "and", "coffee", "caffeine", "alcohol",
		"soda", "sugar", "cigarettes", "cigs", "tobacco", "taking", "using", "weed", "drugs",
	)
)

// optFlags are the word lists a word belongs to, one bit a list: each
// word of a message is looked up once.
type optFlags uint32

// One flag per word list (named for the list), and fNeedDe for the stop
// verbs that need "de".
const (
	fContactNouns optFlags = 1 << iota
	fStopVerbs
	fWeakVerbs
	fPluralContact
	fVerbFill
	fNegators
	fSubjects
	fPoliteAsk
	fContactVerbs
	fContactVerbsES
	fClosing
	fRemoveVerbs
	fRemoveObjects
	fListWords
	fSacarES
	fSacarObjES
	fListWordsES
	fWantVerbs
	fWantFill
	fStopBefore
	fStopSkip
	fStopAfter
	fWholeObjects
	fStopObjects
	fWrongNumberWords
	fNeedDe
)

// optLexEntry is what the classifier knows of a word.
type optLexEntry struct {
	class int
	f     optFlags
}

// optLex maps every word the classifier knows to its class and lists.
var optLex = func() map[string]optLexEntry {
	m := map[string]optLexEntry{}
	for w, c := range optWords {
		e := m[w]
		e.class = c
		m[w] = e
	}
	// In the order of the flags.
	lists := []map[string]bool{contactNouns, stopVerbs, weakVerbs, pluralContact, verbFill, negators, subjects, politeAsk, contactVerbs, contactVerbsES, closing, removeVerbs, removeObjects, listWords, sacarES, sacarObjES, listWordsES, wantVerbs, wantFill, stopBefore, stopSkip, stopAfter, wholeObjects, stopObjects, wrongNumberWords}
	for i, l := range lists {
		for w, v := range l {
			e := m[w]
			e.f |= 1 << i
			if 1<<i == fStopVerbs && v { // needs "de"
				e.f |= fNeedDe
			}
			m[w] = e
		}
	}
	return m
}()

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// canonical returns the keyword a word stands for ("stoppp" -> "stop",
// "unsubcribe" -> "unsubscribe"), or the word.
func canonical(w string) string {
	if _, ok := optWords[w]; ok {
		return w
	}
	if len(w) > 2 && len(w) <= 32 {
		var buf [32]byte
		c := collapseRuns(buf[:0], w)
		if len(c) < len(w) {
			if k, ok := optCollapsed[string(c)]; ok {
				return k
			}
		}
	}
	if len(w) >= 9 && len(w) <= 13 && w[0] == 'u' && editDistance(w, "unsubscribe", 2) <= 2 {
		return "unsubscribe"
	}
	return w
}

// editDistance is the optimal-string-alignment distance between a and b
// (insertions, deletions, substitutions and swaps of neighbours), or
// max+1 once it exceeds max. For short words only.
func editDistance(a, b string, max int) int {
	if len(a) > 16 || len(b) > 16 {
		return max + 1
	}
	d := len(a) - len(b)
	if d > max || -d > max {
		return max + 1
	}
	var rows [3][17]int
	prev2, prev, cur := &rows[0], &rows[1], &rows[2]
	for j := 0; j <= len(b); j++ {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = v
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// stopLookalikes are real words one edit away from STOP: not typos.
var stopLookalikes = set("step", "shop", "spot", "top", "atop", "slop", "stoop", "stomp", "sop", "soup", "stow", "stops", "stoep", "tops", "pots", "post", "opts")

// classifyOptTokens applies the rules of [ClassifyOptOut] to the words of
// a message.
func classifyOptTokens(toks []optTok) OptOutClass {
	// The whole message without spaces: "S T O P", "st op", "opt out",
	// "stop all", "no mas", "un subscribe".
	{
		var buf [24]byte
		n := 0
		for _, t := range toks {
			if n+len(t.w) > len(buf) {
				n = -1
				break
			}
			n += copy(buf[n:], t.w)
		}
		if n > 0 {
			if c := optWords[canonical(string(buf[:n]))]; c == wStopKW || c == wWholeKW || c == wStrong {
				return OptOut
			}
		}
	}

	// Runs of single letters that spell a keyword inside a message:
	// "please S.T.O.P. texting".
	for i := 0; i < len(toks); i++ {
		if len(toks[i].w) != 1 || !isASCIILetter(toks[i].w[0]) {
			continue
		}
		j := i
		var buf [16]byte
		n := 0
		for j < len(toks) && len(toks[j].w) == 1 && isASCIILetter(toks[j].w[0]) && n < len(buf) {
			buf[n] = toks[j].w[0]
			n++
			j++
		}
		if j-i >= 2 {
			if k := canonical(string(buf[:n])); optWords[k] != wNone && optWords[k] != wPolite {
				toks[i].w = k
				toks = append(toks[:i+1], toks[j:]...)
			}
		}
	}

	// Canonical forms, and bigrams that make one keyword.
	out := toks[:0]
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		e, known := optLex[t.w]
		if !known {
			if c := canonical(t.w); c != t.w {
				t.w = c
				e, known = optLex[c]
			}
		}
		if i+1 < len(toks) {
			next := toks[i+1].w
			switch {
			case t.w == "opt" && next == "out":
				t.w = "optout"
			case t.w == "no" && next == "mas":
				t.w = "nomas"
			case t.w == "un" && next == "subscribe":
				t.w = "unsubscribe"
			}
			if t.w != toks[i].w {
				e, known = optLex[t.w]
				i++
			}
		}
		if known {
			t.class, t.f = e.class, e.f
		}
		out = append(out, t)
	}
	toks = out
	fl := func(i int) optFlags {
		if i < 0 || i >= len(toks) {
			return 0
		}
		return toks[i].f
	}

	var strong, amb, otherStop bool
	word := func(i int) string {
		if i < 0 || i >= len(toks) {
			return ""
		}
		return toks[i].w
	}
	// tailCloses reports whether every word from i on is a closing word.
	tailCloses := func(i int) bool {
		for ; i < len(toks); i++ {
			if !(toks[i].f&fClosing != 0) {
				return false
			}
		}
		return true
	}
	// phrase records an opt-out phrase that ends before i: an opt-out if
	// only closing words follow, else ambiguous.
	phrase := func(i int) {
		if tailCloses(i) {
			strong = true
		} else {
			amb = true
		}
	}

	// "go away" (and polite words) as the whole message.
	{
		n := 0
		for i, t := range toks {
			if t.class != wPolite && !(t.w == "go" && word(i+1) == "away") && !(t.w == "away" && word(i-1) == "go") {
				n = -1
				break
			}
			if t.w == "go" && word(i+1) == "away" {
				n++
			}
		}
		if n > 0 {
			return OptOut
		}
	}

	// A whole message made of keywords and polite words.
	{
		kw, stopKW, ok := false, false, true
		for _, t := range toks {
			switch t.class {
			case wStopKW:
				kw, stopKW = true, true
			case wWholeKW, wStrong:
				kw = true
			case wPolite:
			default:
				if !(t.f&fStopObjects != 0) {
					ok = false
				}
			}
		}
		if ok && kw {
			for _, t := range toks {
				if (t.f&fStopObjects != 0) && !stopKW {
					ok = false
				}
			}
		}
		if ok && kw {
			return OptOut
		}
	}

	// A sentence of its own made of STOP and polite words: "wrong number,
	// stop", "I'm fine. STOP", "No. Stop.". Sentences of END, CANCEL,
	// QUIT alone are ambiguous: "Cancel. I'll call to reschedule".
	{
		for i := 0; i < len(toks); {
			c := toks[i].clause
			j := i
			stopKW, wholeKW, ok := false, false, true
			for ; j < len(toks) && toks[j].clause == c; j++ {
				switch toks[j].class {
				case wStopKW:
					stopKW = true
				case wWholeKW:
					wholeKW = true
				case wPolite:
				default:
					if !(toks[j].f&fStopObjects != 0) {
						ok = false
					}
				}
			}
			if ok && stopKW {
				strong = true
			} else if ok && wholeKW {
				switch toks[i].w {
				case "end", "cancel", "quit", "remove", "cancelar":
					amb = true
				}
			}
			i = j
		}
	}

	for i, t := range toks {
		w := t.w
		class := t.class

		// UNSUBSCRIBE, OPTOUT, REVOKE, STOPALL anywhere.
		if class == wStrong {
			if (fl(i-1)&fNegators != 0) || (fl(i-2)&fNegators != 0) || (fl(i-3)&fNegators != 0) {
				amb = true
			} else {
				strong = true
			}
		}

		// "stop texting me", "end these messages", "dejen de enviarme".
		if t.f&fStopVerbs != 0 {
			needDe := t.f&fNeedDe != 0
			j := i + 1
			if needDe {
				if word(j) != "de" && !(w == "done" && word(j) == "with") {
					j = -1
				} else {
					j++
				}
			}
			if j > 0 {
				for k := 0; k < 4 && j < len(toks) && (toks[j].f&fVerbFill != 0) && !(toks[j].f&fContactNouns != 0); k++ {
					j++
				}
				noun := j
				if fl(j)&fContactNouns == 0 && fl(j+1)&fPluralContact != 0 && strings.HasSuffix(word(j+1), "s") {
					noun = j + 1 // "stop the study texts", "cancel appointment reminders"
				}
				if t.f&fWeakVerbs != 0 && fl(noun)&fPluralContact == 0 {
					// "at the end, text me": END, CANCEL, QUIT take
					// "texts", "messages", not "text" the verb.
					noun = -1
					if (word(j) == "text" || word(j) == "sms") && fl(j+1)&fPluralContact != 0 {
						noun = j + 1
					}
				}
				if fl(noun)&fContactNouns != 0 && toks[j].clause == t.clause {
					switch prev := word(i - 1); {
					case fl(i-1)&fNegators != 0:
						amb = true
					case prev == "you" || prev == "u":
						if (fl(i-2)&fPoliteAsk != 0) || word(i-2) == "" {
							strong = true
						} else {
							amb = true
						}
					case prev == "i" && (word(i-2) == "do" || word(i-2) == "can") && word(i-3) == "how":
						strong = true // "how do I stop these texts?"
					case fl(i-1)&fSubjects != 0:
						amb = true
					default:
						strong = true
					}
				}
			}
		}

		// "I want these texts to stop", "make the texts stop".
		if w == "stop" && (fl(i-1)&fPluralContact != 0 || word(i-1) == "to" && fl(i-2)&fPluralContact != 0) {
			phrase(i + 1)
		}

		// STOP inside a longer sentence: about something else ("the pain
		// won't stop", "stop the medication", "stop by"), or ambiguous.
		if class == wStopKW && w != "basta" {
			j := i + 1
			for k := 0; k < 3 && (fl(j)&fStopSkip != 0); k++ {
				j++
			}
			gerund := strings.HasSuffix(word(i+1), "ing") && fl(i+1)&fContactNouns == 0
			switch word(i + 1) {
			case "participating", "responding", "answering", "replying":
				gerund = false // "I'd like to stop participating": ask a person
			}
			switch {
			case gerund && (word(i+2) == "me" || word(i+2) == "us"):
				amb = true // "stop hassling me"
			case (fl(i-1)&fStopBefore != 0) || (fl(i+1)&fStopAfter != 0) || (j > i+1 && (fl(j)&fStopAfter != 0)) || gerund:
				if !(fl(j)&fContactNouns != 0) {
					otherStop = true
				}
			default:
				amb = true
			}
		}

		// "don't text me", "never text me again", "no me envíen más".
		if (w == "dont" || w == "never" || (w == "not" && word(i-1) == "do")) && !(fl(i-1)&fSubjects != 0) && word(i-1) != "you" {
			j := i + 1
			if word(j) == "please" || word(j) == "ever" || word(j) == "pls" {
				j++
			}
			if v := word(j); fl(j)&fContactVerbs != 0 {
				if v != "send" && v != "call" || word(j+1) == "me" || word(j+1) == "us" {
					phrase(j + 1)
				} else {
					// "don't send any more texts"
					k := j + 1
					for n := 0; n < 3 && fl(k)&fVerbFill != 0 && fl(k)&fContactNouns == 0; n++ {
						k++
					}
					if fl(k)&fPluralContact != 0 {
						phrase(k + 1)
					}
				}
			}
		}
		if w == "no" && word(i-1) != "yo" {
			j := i + 1
			for k := 0; k < 2 && (word(j) == "me" || word(j) == "nos" || word(j) == "mas"); k++ {
				j++
			}
			if fl(j)&fContactVerbsES != 0 {
				phrase(j + 1)
			}
		}

		// "remove me", "take me off your list", "delete my number".
		if (t.f&fRemoveVerbs != 0) && (fl(i+1)&fRemoveObjects != 0) {
			j := i + 1
			switch word(j) {
			case "me", "us":
				j++
			default: // my number, this number, our number
				if o := word(j + 1); o == "number" || o == "phone" || o == "cell" || o == "info" || o == "contact" {
					j += 2
				} else {
					j = -1
				}
			}
			switch w {
			case "take":
				if word(j) != "off" && word(j) != "out" {
					j = -1
				}
			case "lose":
				if word(i+1) == "me" {
					j = -1
				}
			case "opt":
				if word(j) != "out" {
					j = -1
				}
			}
			if j > 0 {
				for j < len(toks) && (toks[j].f&fListWords != 0) {
					j++
				}
				phrase(j)
			}
		}
		if (t.f&fRemoveVerbs != 0 && (word(i+1) == "from" || word(i+1) == "off") || w == "removed" && word(i-1) == "be") && w != "take" {
			// "remove from list", "I would like to be removed"
			j, list := i+1, w == "removed"
			for j < len(toks) && (toks[j].f&fListWords != 0) {
				switch toks[j].w {
				case "list", "lists", "texts", "messages", "database", "system", "contacts", "sms", "alerts", "reminders", "texting", "messaging":
					list = true
				}
				j++
			}
			if list {
				phrase(j)
			}
		}
		if t.f&fSacarES != 0 {
			j := i + 1
			for j < len(toks) && (toks[j].f&fListWordsES != 0) {
				j++
			}
			phrase(j)
		}
		if (t.f&fSacarObjES != 0) && word(i+1) == "mi" && (word(i+2) == "numero" || word(i+2) == "telefono") {
			j := i + 3
			for j < len(toks) && (toks[j].f&fListWordsES != 0) {
				j++
			}
			phrase(j)
		}
		if w == "de" && word(i+1) == "baja" {
			switch word(i - 1) {
			case "darme", "dar", "denme", "dame", "den", "doy", "darnos", "denos":
				strong = true
			}
		}

		// "I don't want (to get) any more texts", "no quiero más mensajes",
		// "I no longer wish to receive messages".
		if t.f&fWantVerbs != 0 {
			neg := false
			switch word(i - 1) {
			case "dont", "no", "never":
				neg = true
			case "not":
				neg = true
			case "longer":
				neg = word(i-2) == "no"
			}
			if neg {
				j := i + 1
				for k := 0; k < 5 && (fl(j)&fWantFill != 0); k++ {
					j++
				}
				if fl(j)&fContactNouns != 0 {
					strong = true
				} else if word(i+1) == "que" && (fl(i+2)&fContactVerbsES != 0 || word(i+2) == "me" && fl(i+3)&fContactVerbsES != 0) {
					strong = true // "no quiero que me manden mensajes"
				} else if j == len(toks) && j > i+1 {
					for k := i + 1; k < j; k++ {
						if w := toks[k].w; w == "receive" || w == "get" || w == "recibir" || w == "getting" {
							amb = true // "I don't want to receive these"
						}
					}
				}
			}
		}

		// "no more texts", "no más mensajes", "no texts please".
		if w == "nomas" || (w == "more" && word(i-1) == "no") {
			j := i + 1
			for k := 0; k < 3 && (fl(j)&fVerbFill != 0); k++ {
				j++
			}
			if fl(j)&fContactNouns != 0 {
				strong = true
			}
		}
		if w == "no" && (word(i+1) == "texts" || word(i+1) == "messages" || word(i+1) == "mensajes" || word(i+1) == "textos") && tailCloses(i+2) {
			strong = true
		}

		// "leave me alone", "déjenme en paz".
		if w == "leave" && word(i+1) == "me" && word(i+2) == "alone" {
			phrase(i + 3)
		}
		if (w == "dejenme" || w == "dejame" || w == "dejeme") && word(i+1) == "en" && word(i+2) == "paz" {
			phrase(i + 3)
		}

		// "I withdraw my consent", "I do not consent", "retiro mi
		// consentimiento".
		if w == "consent" || w == "consentimiento" {
			switch {
			case word(i-1) == "withdraw" || word(i-2) == "withdraw" || word(i-1) == "retiro" || word(i-2) == "retiro":
				strong = true
			case word(i-1) == "dont" || word(i-1) == "not" && word(i-2) == "do":
				strong = true
			}
		}

		// "wrong number": this is not the patient; texting on is
		// texting someone who never consented.
		if w == "wrong" && (word(i+1) == "" || toks[i+1].class == wStopKW || word(i+1) == "number" || word(i+1) == "person" || word(i+1) == "phone" || word(i+1) == "num") ||
			w == "numero" && (word(i+1) == "equivocado" || word(i+1) == "incorrecto") ||
			w == "persona" && word(i+1) == "equivocada" {
			if wrongNumberOnly(toks) {
				strong = true
			} else {
				amb = true
			}
		}

		// Complaints that may or may not revoke consent: "why do you keep
		// texting me", "I never signed up", "who gave you my number", "I'm
		// not the patient".
		switch {
		case w == "keep" && (word(i-1) == "you" || word(i-1) == "u") && fl(i+1)&fContactNouns != 0,
			(w == "sign" || w == "signed") && word(i+1) == "up" && (fl(i-1)&fNegators != 0 || word(i-1) == "didnt" || word(i-1) == "never"),
			w == "number" && word(i-1) == "my" && (word(i-2) == "get" || word(i-2) == "got" || word(i-2) == "gave" || word(i-2) == "find" || word(i-2) == "found" || word(i-2) == "you" && (word(i-3) == "gave" || word(i-3) == "give")),
			w == "patient" && word(i-1) == "the" && (word(i-2) == "not" || word(i-2) == "isnt"):
			amb = true
		}

		// "not interested", "no me interesa": maybe an answer, maybe not.
		if (w == "interested" && (word(i-1) == "not" || word(i-1) == "longer") || w == "interesa" && word(i-1) == "me" && word(i-2) == "no") && tailCloses(i+1) {
			amb = true
		}
	}

	switch {
	case strong && otherStop:
		return OptOutAmbiguous // "stop the meds or stop the texts?"
	case strong:
		return OptOut
	case amb:
		return OptOutAmbiguous
	}

	// Short messages: "i quit", "end it", "cancel everything", "no more",
	// "✋", near misses of STOP.
	real := 0
	var kw string
	for _, t := range toks {
		if t.class != wPolite {
			real++
		}
		if c := t.class; c == wWholeKW && kw == "" {
			kw = t.w
		}
	}
	if kw != "" && real <= 3 {
		switch kw {
		case "end", "cancel", "quit", "cancelar":
			for i, t := range toks {
				if t.w == kw {
					j := i + 1
					for k := 0; k < 2 && (fl(j)&fStopSkip != 0); k++ {
						j++
					}
					if (fl(j)&fWholeObjects != 0) || (fl(i+1)&fWholeObjects != 0) {
						return NotOptOut
					}
					break
				}
			}
			return OptOutAmbiguous
		}
	}
	if real <= 3 {
		for i, t := range toks {
			switch t.w {
			case "enough", "spam", "scam":
				return OptOutAmbiguous // "Enough!", "this is spam"
			case "off":
				switch word(i - 1) {
				case "f", "fuck", "piss", "bugger", "sod", "back":
					return OptOutAmbiguous // hostile, most likely "stop"
				}
			}
		}
	}
	if real <= 2 {
		for i, t := range toks {
			if t.w == tokHand {
				return OptOutAmbiguous
			}
			if t.w == "more" && word(i-1) == "no" && len(toks) == 2 {
				return OptOutAmbiguous // "no more" (pain? texts?)
			}
		}
	}
	if len(toks) == 1 {
		w := toks[0].w
		if len(w) >= 3 && len(w) <= 5 && !stopLookalikes[w] && editDistance(w, "stop", 1) <= 1 {
			return OptOutAmbiguous // "stpo", "sotp"
		}
	}
	return NotOptOut
}

// wrongNumberOnly reports whether a message is only "wrong number" and
// words around it ("you have the wrong number", "wrong number, stop").
func wrongNumberOnly(toks []optTok) bool {
	for _, t := range toks {
		if t.class != wNone || (t.f&fClosing != 0) || (t.f&fWrongNumberWords != 0) {
			continue
		}
		return false
	}
	return true
}

var wrongNumberWords = set(
	"wrong", "number", "person", "phone", "num", "have", "got", "the", "is", "its", "a", "this", "texting",
	"youve", "you", "numero", "equivocado", "incorrecto", "persona", "equivocada", "tiene", "el", "es",
	"un", "una", "sorry", "lo", "siento", "who", "dont", "know", "i", "not", "me", "im", "mine",
)

func isASCIILetter(c byte) bool { return 'a' <= c && c <= 'z' }
