package outreach

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Trigger lets patients start a flow by texting first, as RapidPro's
// keyword triggers and a Twilio Studio flow's incomingMessage trigger do:
// a text to a running campaign's sending number that reaches no
// conversation (the sender has no active two-way conversation with that
// number) and that the trigger matches starts a new conversation of that
// campaign with the sender (see [Runner.HandleInbound]).
type Trigger struct {
	// Keywords start the flow when the text's first word is one of them:
	// a keyword is ASCII letters and digits, compared without regard to
	// case; the first word is the first run of ASCII letters and digits,
	// whatever precedes it and after which comes the end of the text or
	// any other character. "JOIN" matches "join", "Join!" and "join me",
	// not "joining". No keywords: any text starts the flow.
	Keywords []string `json:"keywords,omitempty"`
}

// OpenEnded reports whether patients may start conversations of c (its
// flow has a [Trigger]): such a campaign is not done when its
// conversations are, and runs until it is cancelled.
func (c *Campaign) OpenEnded() bool {
	return c.Flow != nil && c.Flow.Trigger != nil
}

// Matches reports whether body starts the flow (see Keywords).
func (t *Trigger) Matches(body string) bool {
	if t == nil {
		return false
	}
	if len(t.Keywords) == 0 {
		return true
	}
	w := FirstWord(body)
	for _, k := range t.Keywords {
		if strings.EqualFold(w, k) {
			return true
		}
	}
	return false
}

// FirstWord returns the first run of ASCII letters and digits in s, the
// word a [Trigger]'s keywords are matched against ("" when there is none).
func FirstWord(s string) string {
	start := strings.IndexFunc(s, isWordRune)
	if start < 0 {
		return ""
	}
	s = s[start:]
	if end := strings.IndexFunc(s, func(r rune) bool { return !isWordRune(r) }); end >= 0 {
		s = s[:end]
	}
	return s
}

func isWordRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

// MaxKeywords is the most keywords a [Trigger] may have.
const MaxKeywords = 20

// trigger checks the flow's trigger: keywords are words, none repeats,
// and none is STOP, START, HELP or another word the opt-out and help
// handling takes first, which could never start the flow.
func (v *validator) trigger() {
	t := v.f.Trigger
	if t == nil {
		return
	}
	if len(t.Keywords) > MaxKeywords {
		v.add("", "trigger.keywords", "the trigger has %d keywords; the limit is %d", len(t.Keywords), MaxKeywords)
	}
	seen := map[string]bool{}
	for _, k := range t.Keywords {
		switch {
		case k == "" || FirstWord(k) != k:
			v.add("", "trigger.keywords", "%q: a keyword is one word of ASCII letters and digits", k)
		case seen[strings.ToUpper(k)]:
			v.add("", "trigger.keywords", "%q is listed twice", k)
		case ParseKeyword(k) != NoKeyword || ClassifyOptOut(k) != NotOptOut:
			v.add("", "trigger.keywords", "%q opts out, back in or asks for help: it cannot start a flow", k)
		}
		seen[strings.ToUpper(k)] = true
	}
}

// TriggerMessage is the text that started a conversation (see [Trigger]):
// [State] keeps it until the conversation starts, when the runner passes
// its body to the flow with the start event ([Event] Body) and forgets
// the body, which is the patient's.
type TriggerMessage struct {
	// MessageID is the stored inbound message.
	MessageID int64 `json:"message_id"`
	// ProviderID is its provider's id (Twilio's MessageSid).
	ProviderID string `json:"provider_id"`
	// To is the number it was sent to: the campaign's sending number.
	To   string `json:"to"`
	Body string `json:"body,omitempty"`
	// At is when it was received.
	At time.Time `json:"at"`
}

// TriggeredRecipientID returns the Recipient.ID of the conversation that
// the inbound message with that provider id started: one per message, so
// that a webhook delivered twice starts one conversation, and a patient
// who texts the keyword again after a conversation ended starts another.
func TriggeredRecipientID(providerID string) string {
	return "inbound:" + providerID
}

// startTriggered starts a conversation for the unmatched inbound message
// m when a running campaign of the runner's world, run by the embedded
// runtime and sending from the number m was sent to, has a flow whose
// Trigger matches it (the newest such campaign). A phone that opted out
// starts nothing. It reports the campaign that took the message, if any.
func (r *Runner) startTriggered(ctx context.Context, m Message) (int64, error) {
	c, err := r.triggeredCampaign(ctx, m)
	if c == nil || err != nil {
		return 0, err
	}
	opted, err := r.store.OptedOut(ctx, []string{m.From})
	if err != nil {
		return 0, fmt.Errorf("outreach: opt-out list: %w", err)
	}
	if opted[m.From] {
		return 0, nil
	}
	rec := Recipient{ID: TriggeredRecipientID(m.ProviderID), Phone: m.From}
	convs := r.conversations(*c, []Recipient{rec})
	convs[0].State.Trigger = &TriggerMessage{MessageID: m.ID, ProviderID: m.ProviderID, To: m.To, Body: m.Body, At: m.SentAt}
	n, err := r.store.AddConversations(ctx, c.ID, convs)
	if err != nil {
		return 0, fmt.Errorf("outreach: campaign %d: start a conversation from an inbound message: %w", c.ID, err)
	}
	if n > 0 {
		r.log.Info("outreach: conversation started by an inbound message", "campaign", c.ID, "message", m.ID)
	}
	return c.ID, nil
}

// triggeredCampaign returns the campaign whose trigger m starts, or nil.
func (r *Runner) triggeredCampaign(ctx context.Context, m Message) (*Campaign, error) {
	list, err := r.store.Campaigns(ctx)
	if err != nil {
		return nil, fmt.Errorf("outreach: campaigns: %w", err)
	}
	for i := range list {
		c := &list[i]
		if c.Status == CampaignRunning && c.From == m.To && c.World == r.opts.World &&
			(c.Runtime == "" || c.Runtime == RuntimeEmbedded) && c.Flow != nil && c.Flow.Trigger.Matches(m.Body) {
			return c, nil
		}
	}
	return nil, nil
}
