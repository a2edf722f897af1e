package storetest

import (
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// testAlerts: alerts are kept once per message, listed per campaign,
// claimed for notification per world with a hold and retried after it,
// and notified and acknowledged once.
func testAlerts(h *harness) {
	c, convs := h.campaign(outreach.CampaignRunning, conv("a", 1, base))
	h.activate(base, convs[0].ID)
	m1 := h.inbound(1, "chest pain", "SMa1", at(time.Minute), outreach.EventReply)
	m2 := h.inbound(9, "worse", "SMa2", at(2*time.Minute), outreach.EventReply) // matches nothing
	m3 := h.inbound(1, "dev world", "SMa3", at(3*time.Minute), "")

	add := func(a outreach.Alert, wantNew bool) outreach.Alert {
		h.Helper()
		got, isNew, err := h.s.AddAlert(h.ctx, a)
		if err != nil {
			h.Fatalf("AddAlert(message %d): %v", a.MessageID, err)
		}
		if isNew != wantNew {
			h.Fatalf("AddAlert(message %d): isNew = %v, want %v", a.MessageID, isNew, wantNew)
		}
		return got
	}
	a1 := add(outreach.Alert{World: "", CampaignID: c.ID, ConversationID: convs[0].ID, MessageID: m1.ID, PatientID: "a",
		Terms: []string{"chest pain"}, At: m1.SentAt, RetryAt: m1.SentAt}, true)
	if a1.ID == 0 {
		h.Fatal("AddAlert assigned no ID")
	}
	again := add(outreach.Alert{MessageID: m1.ID, Terms: []string{"other"}, At: at(time.Hour)}, false)
	h.equal("the same message's alert, added again", again, a1)
	a2 := add(outreach.Alert{MessageID: m2.ID, Terms: []string{"worse"}, At: m2.SentAt, RetryAt: m2.SentAt}, true)
	a3 := add(outreach.Alert{World: outreach.WorldDev, MessageID: m3.ID, Terms: []string{"dev"}, At: m3.SentAt, RetryAt: m3.SentAt}, true)

	alerts := func(campaign int64) []outreach.Alert {
		h.Helper()
		as, err := h.s.Alerts(h.ctx, campaign)
		if err != nil {
			h.Fatalf("Alerts(%d): %v", campaign, err)
		}
		return as
	}
	got := alerts(c.ID)
	if len(got) != 1 || got[0].ID != a1.ID || got[0].PatientID != "a" || len(got[0].Terms) != 1 || got[0].Terms[0] != "chest pain" {
		h.Fatalf("Alerts of the campaign = %+v", got)
	}
	h.sameTime("alert time", got[0].At, m1.SentAt)
	if got := alerts(0); len(got) != 2 || got[0].ID != a2.ID || got[1].ID != a3.ID {
		h.Fatalf("Alerts of no campaign = %+v, want messages %d and %d", got, m2.ID, m3.ID)
	}

	claim := func(world string, now time.Time) []outreach.Alert {
		h.Helper()
		as, err := h.s.ClaimAlerts(h.ctx, world, now, 10, time.Minute)
		if err != nil {
			h.Fatalf("ClaimAlerts: %v", err)
		}
		return as
	}
	// Before any is due, none; then the empty world's two, in ID order,
	// with their tries counted.
	if got := claim("", base); len(got) != 0 {
		h.Fatalf("claimed before due: %+v", got)
	}
	got = claim("", at(5*time.Minute))
	if len(got) != 2 || got[0].ID != a1.ID || got[1].ID != a2.ID || got[0].Tries != 1 {
		h.Fatalf("first claim = %+v", got)
	}
	h.sameTime("held until", got[0].RetryAt, at(6*time.Minute))
	if got := claim("", at(5*time.Minute+30*time.Second)); len(got) != 0 {
		h.Fatalf("claimed again while held: %+v", got)
	}
	if err := h.s.AlertNotified(h.ctx, a1.ID, at(5*time.Minute)); err != nil {
		h.Fatal(err)
	}
	if err := h.s.AlertNotified(h.ctx, a1.ID, at(9*time.Minute)); err != nil {
		h.Fatal(err)
	}
	// After the hold, only the one not notified, tried a second time.
	got = claim("", at(6*time.Minute))
	if len(got) != 1 || got[0].ID != a2.ID || got[0].Tries != 2 {
		h.Fatalf("claim after the hold = %+v", got)
	}
	if got := claim(outreach.WorldDev, at(6*time.Minute)); len(got) != 1 || got[0].ID != a3.ID {
		h.Fatalf("claim in the dev world = %+v", got)
	}

	if err := h.s.AckAlert(h.ctx, a1.ID, "nurse-1", at(10*time.Minute)); err != nil {
		h.Fatal(err)
	}
	if err := h.s.AckAlert(h.ctx, a1.ID, "nurse-2", at(11*time.Minute)); err != nil {
		h.Fatal(err)
	}
	got = alerts(c.ID)
	h.sameTime("notified at", got[0].NotifiedAt, at(5*time.Minute))
	h.sameTime("acknowledged at", got[0].AckedAt, at(10*time.Minute))
	h.equal("acknowledged by", got[0].AckedBy, "nurse-1")
	h.wantErr("AckAlert of an unknown alert", h.s.AckAlert(h.ctx, 999, "x", base), outreach.ErrNotFound)
	h.wantErr("AlertNotified of an unknown alert", h.s.AlertNotified(h.ctx, 999, base), outreach.ErrNotFound)
}
