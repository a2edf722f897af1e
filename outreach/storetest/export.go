package storetest

import (
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// testExportRows: a store's export rows are its conversations, each with
// each of its responses in Responses order or, with none, once with empty
// response fields; a page ends after limit conversations, an unknown
// campaign has none, and the rows are appended to what dst holds.
func testExportRows(h *harness) {
	er, ok := h.s.(outreach.ExportRowLister)
	if !ok {
		h.Skip("the store has no ExportRows method (it is optional)")
	}
	c, convs := h.campaign(outreach.CampaignRunning,
		conv("a", 1, base), conv("b", 2, base), conv("c", 3, base), conv("d", 4, base), conv("e", 5, base))
	other, _ := h.campaign(outreach.CampaignRunning, conv("z", 6, base))
	cls := h.claim(base, 10)
	resp := func(patient, q, raw, answer string, when time.Duration) outreach.Response {
		return outreach.Response{PatientID: patient, QuestionID: q, Raw: raw, Answer: answer, RepliedAt: at(when)}
	}
	ua, uc, ud, ue, uz := update(cls[0]), update(cls[2]), update(cls[3]), update(cls[4]), update(cls[5])
	// a: two replies, committed out of reply order; b: none; c: one in
	// doubt, then one read; d: two at the same time (added order wins);
	// e: none, and ended. Texts hold what a store's encoding of a row
	// could mistake: separators, digits, characters of several bytes.
	ua.Responses = []outreach.Response{resp("a", "q2", "yés, 12:3 😀\n", "yes", 2*time.Minute), resp("a", "q1:2,", "7", "", time.Minute)}
	maybe := resp("c", "q1", "=maybe, \"so\"", "", 5*time.Minute)
	maybe.Doubt = outreach.DoubtNoNumber
	uc.Responses = []outreach.Response{maybe}
	ud.Responses = []outreach.Response{resp("d", "q1", "3", "3", time.Minute), resp("d", "q1", "4", "4", time.Minute)}
	uz.Responses = []outreach.Response{resp("z", "q1", "1", "1", time.Minute)}
	h.commitOK(base, ua, uc, ud, finish(ue, "completed"), uz)
	uc = update(cls[2])
	uc.Responses = []outreach.Response{resp("c", "q1", "7", "7", 6*time.Minute)}
	h.commitOK(base, finish(uc, "answered"))

	// want: what Conversations and Responses say.
	var want []outreach.ExportRow
	byConv := map[int64][]outreach.Response{}
	for _, r := range h.responses(c.ID, outreach.ResponsePage{}) {
		byConv[r.ConversationID] = append(byConv[r.ConversationID], r)
	}
	all, err := h.s.Conversations(h.ctx, c.ID, 0, 0)
	if err != nil {
		h.Fatalf("Conversations: %v", err)
	}
	for _, cv := range all {
		row := outreach.ExportRow{ConversationID: cv.ID, PatientID: cv.Recipient.ID, FirstName: cv.Recipient.FirstName,
			Phone: cv.Recipient.Phone, Outcome: cv.Outcome}
		if len(byConv[cv.ID]) == 0 {
			want = append(want, row)
		}
		for _, r := range byConv[cv.ID] {
			row.QuestionID, row.Answer, row.Raw, row.Doubt, row.RepliedAt = r.QuestionID, r.Answer, r.Raw, r.Doubt, r.RepliedAt
			want = append(want, row)
		}
	}
	if len(want) != 8 || want[0].QuestionID != "q1:2," || want[1].Raw != "yés, 12:3 😀\n" || want[2].PatientID != "b" ||
		want[2].QuestionID != "" || want[3].Doubt != outreach.DoubtNoNumber || want[4].Outcome != "answered" ||
		want[5].Raw != "3" || want[6].Raw != "4" || want[7].Outcome != "completed" || !want[7].RepliedAt.IsZero() {
		h.Fatalf("Conversations and Responses give these export rows, not the ones the test set up:\n%+v", want)
	}

	rows := func(campaign, after int64, limit int, dst ...outreach.ExportRow) []outreach.ExportRow {
		h.Helper()
		got, err := er.ExportRows(h.ctx, dst, campaign, after, limit)
		if err != nil {
			h.Fatalf("ExportRows(%d, after %d, limit %d): %v", campaign, after, limit, err)
		}
		return got
	}
	h.equal("all export rows", rows(c.ID, 0, 100), want)
	h.equal("no limit", rows(c.ID, 0, 0), want)
	h.equal("first page of two conversations", rows(c.ID, 0, 2), want[:3])
	h.equal("second page", rows(c.ID, convs[1].ID, 2), want[3:7])
	h.equal("last page", rows(c.ID, convs[3].ID, 2), want[7:])
	if got := rows(c.ID, convs[4].ID, 2); len(got) != 0 {
		h.Fatalf("page after the last conversation: %+v", got)
	}
	mark := outreach.ExportRow{PatientID: "kept"}
	h.equal("rows appended to dst", rows(c.ID, convs[2].ID, 1, mark), []outreach.ExportRow{mark, want[5], want[6]})
	if got := rows(c.ID+other.ID+100, 0, 10); len(got) != 0 {
		h.Fatalf("export rows of an unknown campaign: %+v", got)
	}
	if got := rows(other.ID, 0, 10); len(got) != 1 || got[0].PatientID != "z" || got[0].Raw != "1" {
		h.Fatalf("export rows of the other campaign: %+v", got)
	}
}
