package storetest

import (
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// testOptOuts checks OptOuts: the latest change of every phone, opted out
// or back in, in phone order, in pages, with its time in UTC. A limit of
// zero or less lists every phone.
func testOptOuts(h *harness) {
	list := func(after string, limit int) []outreach.OptOutRecord {
		h.Helper()
		got, err := h.s.OptOuts(h.ctx, after, limit)
		if err != nil {
			h.Fatalf("OptOuts(%q, %d): %v", after, limit, err)
		}
		return got
	}
	set := func(n int, out bool, when time.Time) {
		h.Helper()
		if err := h.s.SetOptOut(h.ctx, "", phone(n), out, when); err != nil {
			h.Fatalf("SetOptOut: %v", err)
		}
	}
	if got := list("", 0); len(got) != 0 {
		h.Fatalf("OptOuts of an empty store = %+v, want none", got)
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		h.Fatalf("load zone: %v", err)
	}
	set(3, true, base)
	set(1, true, base.In(ny))                     // kept in UTC
	set(2, true, at(time.Minute))                 // a STOP...
	set(2, false, at(2*time.Minute))              // ...then START
	set(2, true, at(time.Minute))                 // an older STOP changes nothing
	set(4, false, at(time.Hour))                  // opted in, never out
	set(5, true, at(time.Second+time.Nanosecond)) // kept to the nanosecond
	want := []outreach.OptOutRecord{
		{Phone: phone(1), OptedOut: true, At: base},
		{Phone: phone(2), OptedOut: false, At: at(2 * time.Minute)},
		{Phone: phone(3), OptedOut: true, At: base},
		{Phone: phone(4), OptedOut: false, At: at(time.Hour)},
		{Phone: phone(5), OptedOut: true, At: at(time.Second + time.Nanosecond)},
	}
	all := list("", 0)
	h.equal("all opt-outs", all, want)
	for _, r := range all {
		h.sameTime("opt-out of "+r.Phone, r.At, r.At.UTC())
	}
	// Pages of two, each starting after the last phone seen.
	var pages [][]outreach.OptOutRecord
	after := ""
	for range len(want) + 1 {
		page := list(after, 2)
		if len(page) == 0 {
			break
		}
		pages = append(pages, page)
		after = page[len(page)-1].Phone
	}
	h.equal("pages", pages, [][]outreach.OptOutRecord{want[0:2], want[2:4], want[4:5]})
	h.equal("after a phone between two", list(phone(2)+"0", -1), want[2:])
	if got := list(phone(5), 10); len(got) != 0 {
		h.Fatalf("OptOuts after the last phone = %+v, want none", got)
	}
}
