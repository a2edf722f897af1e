package storetest

import (
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// worldCampaign creates a running embedded campaign of world with convs
// and returns it with its stored conversations, in ID order.
func (h *harness) worldCampaign(world string, convs ...outreach.Conversation) (outreach.Campaign, []outreach.Conversation) {
	h.Helper()
	c, _, err := h.s.CreateCampaign(h.ctx, outreach.Campaign{
		Name: "campaign of " + world, Flow: testFlow(), From: from, DefaultZone: "America/New_York", CreatedAt: base, World: world,
	}, convs)
	if err != nil {
		h.Fatalf("CreateCampaign(world %q): %v", world, err)
	}
	if err := h.s.SetCampaignStatus(h.ctx, c.ID, outreach.CampaignRunning, base); err != nil {
		h.Fatalf("SetCampaignStatus: %v", err)
	}
	return c, h.conversations(c.ID)
}

// claimIn claims up to 10 conversations of scope at now.
func (h *harness) claimIn(scope outreach.Scope, now time.Time) []outreach.Claim {
	h.Helper()
	cs, err := h.s.ClaimDue(h.ctx, scope, now, 10, lease)
	if err != nil {
		h.Fatalf("ClaimDue(%+v): %v", scope, err)
	}
	return cs
}

// testWorlds checks that a campaign keeps its World, and that ClaimDue
// and NextDue look only at the campaigns of the scope's world (the empty
// world being one like any other).
func testWorlds(h *harness) {
	none, _ := h.campaign(outreach.CampaignRunning, conv("n", 1, at(0)))
	if none.World != "" {
		h.Errorf("campaign created with no world: World = %q, want empty", none.World)
	}
	dev, _ := h.worldCampaign(outreach.WorldDev, conv("d", 2, at(-2*time.Minute)))
	sim, _ := h.worldCampaign(outreach.WorldSim, conv("s", 3, at(-time.Minute)))
	for _, c := range []outreach.Campaign{none, dev, sim} {
		got, err := h.s.Campaign(h.ctx, c.ID)
		if err != nil {
			h.Fatalf("Campaign(%d): %v", c.ID, err)
		}
		if got.World != c.World {
			h.Errorf("Campaign(%d).World = %q, want %q", c.ID, got.World, c.World)
		}
	}
	list, err := h.s.Campaigns(h.ctx)
	if err != nil {
		h.Fatalf("Campaigns: %v", err)
	}
	worlds := map[int64]string{}
	for _, c := range list {
		worlds[c.ID] = c.World
	}
	h.equal("worlds listed by Campaigns", worlds, map[int64]string{none.ID: "", dev.ID: outreach.WorldDev, sim.ID: outreach.WorldSim})

	for _, tt := range []struct {
		scope outreach.Scope
		want  int64
		next  time.Time
	}{
		{outreach.Scope{Runtime: outreach.RuntimeEmbedded}, none.ID, at(0)},
		{outreach.Scope{Runtime: outreach.RuntimeEmbedded, World: outreach.WorldDev}, dev.ID, at(-2 * time.Minute)},
		// An empty Runtime is the embedded runtime, as in campaigns.
		{outreach.Scope{World: outreach.WorldSim}, sim.ID, at(-time.Minute)},
	} {
		next, ok, err := h.s.NextDue(h.ctx, tt.scope, at(-time.Hour))
		if err != nil || !ok || !next.Equal(tt.next) {
			h.Errorf("NextDue(%+v) = %v, %v, %v; want %v", tt.scope, next, ok, err, tt.next)
		}
		cs := h.claimIn(tt.scope, at(time.Hour))
		if len(cs) != 1 || cs[0].Conversation.CampaignID != tt.want {
			h.Errorf("ClaimDue(%+v) claimed %v, want the one conversation of campaign %d", tt.scope, claimIDs(cs), tt.want)
		}
	}
	for _, scope := range []outreach.Scope{
		{Runtime: outreach.RuntimeEmbedded, World: "twilio:AC0123"},
		{Runtime: "studio", World: outreach.WorldDev},
	} {
		if next, ok, err := h.s.NextDue(h.ctx, scope, at(-time.Hour)); ok || err != nil {
			h.Errorf("NextDue(%+v) = %v, %v, %v; want nothing", scope, next, ok, err)
		}
		if cs := h.claimIn(scope, at(time.Hour)); len(cs) != 0 {
			h.Errorf("ClaimDue(%+v) claimed %v, want nothing", scope, claimIDs(cs))
		}
	}
}

// testWorldPairs checks that the pair rule holds in each world apart, and
// that RecordInbound matches a reply only to a conversation of its world.
func testWorldPairs(h *harness) {
	devScope := outreach.Scope{Runtime: outreach.RuntimeEmbedded, World: outreach.WorldDev}
	simScope := outreach.Scope{Runtime: outreach.RuntimeEmbedded, World: outreach.WorldSim}
	_, dev := h.worldCampaign(outreach.WorldDev, conv("d", 1, base))
	_, sim := h.worldCampaign(outreach.WorldSim, conv("s", 1, base))

	// The same (phone, sending number) is active in both worlds at once.
	for _, tt := range []struct {
		scope outreach.Scope
		id    int64
	}{{devScope, dev[0].ID}, {simScope, sim[0].ID}} {
		cs := h.claimIn(tt.scope, base)
		h.equal("claimed", claimIDs(cs), []int64{tt.id})
		h.commitOK(base, release(set(update(cs[0]), outreach.ConversationActive, at(time.Hour))))
	}

	reply := func(world, id string) outreach.Message {
		h.Helper()
		m, isNew, err := h.s.RecordInbound(h.ctx, world, outreach.Message{
			From: phone(1), To: from, Body: "7", ProviderID: id, SentAt: at(time.Minute),
		}, outreach.EventReply)
		if err != nil || !isNew {
			h.Fatalf("RecordInbound(%q, %s) = %v, %v", world, id, isNew, err)
		}
		return m
	}
	h.equal("conversation of a reply in world sim", reply(outreach.WorldSim, "SMsim").ConversationID, sim[0].ID)
	h.equal("conversation of a reply in world dev", reply(outreach.WorldDev, "SMdev").ConversationID, dev[0].ID)
	// A reply through a world with no such conversation matches none of
	// the other worlds': it is stored unmatched.
	stray := reply("twilio:AC0123", "SMreal")
	h.equal("conversation of a reply in a world with no conversation", stray.ConversationID, int64(0))

	for _, tt := range []struct {
		scope outreach.Scope
		id    int64
		body  string
	}{{devScope, dev[0].ID, "SMdev"}, {simScope, sim[0].ID, "SMsim"}} {
		cs := h.claimIn(tt.scope, at(2*time.Minute))
		h.equal("claimed after the replies", claimIDs(cs), []int64{tt.id})
		if len(cs[0].Inbox) != 1 {
			h.Fatalf("inbox of conversation %d = %v, want its world's reply only", tt.id, cs[0].Inbox)
		}
		m := h.messages(tt.id)
		if len(m) != 1 || m[0].ProviderID != tt.body {
			h.Errorf("messages of conversation %d = %v, want the reply %s only", tt.id, m, tt.body)
		}
	}
}
