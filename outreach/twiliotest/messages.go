package twiliotest

import (
	"cmp"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/patient-outreach/sms/outreach"
)

// Message is a message resource held by the fake, outbound (created
// through the API) or inbound (a reply from a simulated phone).
type Message struct {
	SID  string
	From string
	To   string
	Body string
	// Status is accepted, queued, sent, delivered or undelivered for an
	// outbound message, received for an inbound one. It moves when the
	// pump runs ([Server.Step] or [Server.Run]), never backwards.
	Status              string
	ErrorCode           int    // set when undelivered, such as 30003
	Direction           string // "outbound-api" or "inbound"
	MessagingServiceSID string
	StatusCallback      string
	ValidityPeriod      int // seconds, 0 when not given
	DateCreated         time.Time
	DateUpdated         time.Time
	DateSent            time.Time // zero until sent
}

// message is a Message held by the server; s.mu guards it.
type message struct {
	Message
}

// Messages returns every message the server holds, in creation order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.msgs))
	for i, m := range s.msgs {
		out[i] = m.Message
	}
	return out
}

// Message returns the message with this SID.
func (s *Server) Message(sid string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.bySID[sid]
	if m == nil {
		return Message{}, false
	}
	return m.Message, true
}

// Twilio's status order: a status never moves back to an earlier rank.
var statusRank = map[string]int{
	"accepted": 0, "scheduled": 0, "queued": 1, "sending": 2, "sent": 3,
	"delivered": 4, "undelivered": 4, "failed": 4, "received": 4,
}

// SentDelay is how long after a message is created that its status
// becomes sent (and its "sent" status callback is due). The final status
// follows [simphone.ReportDelay] after creation.
const SentDelay = time.Second

var errorMessages = map[int]string{
	21211: "Invalid 'To' Phone Number",
	21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number",
	21602: "Message body is required.",
	21603: "A 'From' phone number is required.",
	21604: "A 'To' phone number is required.",
	21606: "The 'From' phone number provided is not a valid message-capable Twilio phone number for this destination/account.",
	21609: "Invalid StatusCallback url",
	21610: "Attempt to send to unsubscribed recipient",
	21612: "The 'To' phone number is not currently reachable via SMS",
	21617: "The concatenated message body exceeds the 1600 character limit.",
	21624: "Invalid validity period value",
	21701: "The Messaging Service Sid is invalid.",
	21704: "The Messaging Service contains no phone numbers",
	30003: "Unreachable destination handset",
}

func twilioError(w http.ResponseWriter, code int) {
	writeError(w, http.StatusBadRequest, code, errorMessages[code])
}

func (s *Server) createMessage(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, 20001, "Invalid request body")
		return
	}
	f := r.PostForm
	to, from, mg, body, cb := f.Get("To"), f.Get("From"), f.Get("MessagingServiceSid"), f.Get("Body"), f.Get("StatusCallback")
	validity := 0
	switch {
	case to == "":
		twilioError(w, 21604)
		return
	case from == "" && mg == "":
		twilioError(w, 21603)
		return
	case body == "":
		twilioError(w, 21602)
		return
	}
	if cb != "" {
		u, err := url.Parse(cb)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			twilioError(w, 21609)
			return
		}
	}
	if v := f.Get("ValidityPeriod"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 36000 {
			twilioError(w, 21624)
			return
		}
		validity = n
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if mg != "" {
		sv := s.msgService(mg)
		switch {
		case sv == nil:
			twilioError(w, 21701)
			return
		case from == "" && len(sv.pool) == 0:
			twilioError(w, 21704)
			return
		case from == "":
			from = sv.pool[0]
		}
	}
	if s.numberByPhone(from) == nil {
		twilioError(w, 21606)
		return
	}
	if s.optOuts[optKey(from, to)] {
		twilioError(w, 21610)
		return
	}
	now := s.clock.Now()
	sid, err := s.net.Deliver(r.Context(), outreach.OutboundMessage{From: from, To: to, Body: body})
	if err != nil {
		var se *outreach.SendError
		if errors.As(err, &se) && se.Kind == outreach.Permanent {
			code, _ := strconv.Atoi(se.Code)
			msg := errorMessages[code]
			if msg == "" {
				msg = se.Reason
			}
			writeError(w, http.StatusBadRequest, code, msg)
			return
		}
		writeError(w, http.StatusInternalServerError, 20500, "Internal Server Error")
		return
	}
	m := &message{Message{
		SID: sid, From: from, To: to, Body: body, Status: "queued",
		Direction: "outbound-api", MessagingServiceSID: mg, StatusCallback: cb,
		ValidityPeriod: validity, DateCreated: now, DateUpdated: now,
	}}
	if mg != "" {
		m.Status = "accepted"
	}
	s.msgs = append(s.msgs, m)
	s.bySID[sid] = m
	s.schedule(event{at: now, sid: sid, status: "queued"})
	s.schedule(event{at: now.Add(SentDelay), sid: sid, status: "sent"})
	writeJSON(w, http.StatusCreated, s.messageJSON(m))
}

func (s *Server) fetchMessage(w http.ResponseWriter, r *http.Request, p map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.bySID[p["sid"]]
	if m == nil {
		notFound(w, r)
		return
	}
	writeJSON(w, http.StatusOK, s.messageJSON(m))
}

// dateFilter is one DateSent condition.
type dateFilter struct {
	op  byte // '=', '<' (on or before), '>' (on or after)
	t   time.Time
	day bool // compare whole UTC days
}

func (d dateFilter) match(sent time.Time) bool {
	if sent.IsZero() {
		return false
	}
	a, b := sent.UTC(), d.t
	if d.day {
		a = a.Truncate(24 * time.Hour)
	}
	switch d.op {
	case '<':
		return !a.After(b)
	case '>':
		return !a.Before(b)
	}
	return a.Equal(b)
}

// parseDateFilters reads DateSent, DateSent< and DateSent>: a date
// (YYYY-MM-DD, compared by day) or an RFC 3339 time (as twilio-go sends;
// DateSent= then matches the day, < and > the instant, inclusive).
func parseDateFilters(q url.Values) ([]dateFilter, error) {
	var out []dateFilter
	for _, k := range []string{"DateSent", "DateSent<", "DateSent>"} {
		v := q.Get(k)
		if v == "" {
			continue
		}
		d := dateFilter{op: '='}
		if k != "DateSent" {
			d.op = k[len(k)-1]
		}
		if t, err := time.Parse(time.DateOnly, v); err == nil {
			d.t, d.day = t, true
		} else if t, err := time.Parse(time.RFC3339, v); err == nil {
			d.t = t.UTC()
			if d.op == '=' {
				d.t, d.day = d.t.Truncate(24*time.Hour), true
			}
		} else {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

func (s *Server) listMessages(w http.ResponseWriter, r *http.Request, p map[string]string) {
	q := r.URL.Query()
	dates, err := parseDateFilters(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, 20001, "Invalid DateSent: use YYYY-MM-DD or RFC 3339")
		return
	}
	to, from := q.Get("To"), q.Get("From")
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []*message
	for i := len(s.msgs) - 1; i >= 0; i-- { // newest first, as Twilio
		m := s.msgs[i]
		if (to != "" && m.To != to) || (from != "" && m.From != from) {
			continue
		}
		ok := true
		for _, d := range dates {
			ok = ok && d.match(m.DateSent)
		}
		if ok {
			all = append(all, m)
		}
	}
	pg, err := paginate(r, "/2010-04-01/Accounts/"+p["acct"]+"/Messages.json", all, func(m *message) string { return m.SID })
	if err != nil {
		writeError(w, http.StatusBadRequest, 20001, err.Error())
		return
	}
	items := make([]messageJSON, len(pg.items))
	for i, m := range pg.items {
		items[i] = s.messageJSON(m)
	}
	pg.meta["messages"] = items
	writeJSON(w, http.StatusOK, pg.meta)
}

type messageJSON struct {
	AccountSID          string            `json:"account_sid"`
	APIVersion          string            `json:"api_version"`
	Body                string            `json:"body"`
	DateCreated         string            `json:"date_created"`
	DateSent            *string           `json:"date_sent"`
	DateUpdated         string            `json:"date_updated"`
	Direction           string            `json:"direction"`
	ErrorCode           *int              `json:"error_code"`
	ErrorMessage        *string           `json:"error_message"`
	From                string            `json:"from"`
	MessagingServiceSID *string           `json:"messaging_service_sid"`
	NumMedia            string            `json:"num_media"`
	NumSegments         string            `json:"num_segments"`
	Price               *string           `json:"price"`
	PriceUnit           string            `json:"price_unit"`
	SID                 string            `json:"sid"`
	Status              string            `json:"status"`
	SubresourceURIs     map[string]string `json:"subresource_uris"`
	To                  string            `json:"to"`
	URI                 string            `json:"uri"`
}

// rfc2822 formats t as Twilio's 2010 API does.
func rfc2822(t time.Time) string { return t.UTC().Format(time.RFC1123Z) }

func (s *Server) messageJSON(m *message) messageJSON {
	base := "/2010-04-01/Accounts/" + s.accountSID + "/Messages/" + m.SID
	j := messageJSON{
		AccountSID:  s.accountSID,
		APIVersion:  "2010-04-01",
		Body:        m.Body,
		DateCreated: rfc2822(m.DateCreated),
		DateUpdated: rfc2822(m.DateUpdated),
		Direction:   m.Direction,
		From:        m.From,
		NumMedia:    "0",
		NumSegments: strconv.Itoa(segments(m.Body)),
		PriceUnit:   "USD",
		SID:         m.SID,
		Status:      m.Status,
		SubresourceURIs: map[string]string{
			"media":    base + "/Media.json",
			"feedback": base + "/Feedback.json",
		},
		To:  m.To,
		URI: base + ".json",
	}
	if !m.DateSent.IsZero() {
		d := rfc2822(m.DateSent)
		j.DateSent = &d
	}
	if m.ErrorCode != 0 {
		c, msg := m.ErrorCode, errorMessages[m.ErrorCode]
		j.ErrorCode, j.ErrorMessage = &c, &msg
	}
	if m.MessagingServiceSID != "" {
		j.MessagingServiceSID = &m.MessagingServiceSID
	}
	return j
}

// gsm7 holds the characters of the GSM 03.38 basic character set.
const gsm7 = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

// gsm7ext holds the characters that take two septets (an escape first).
const gsm7ext = "^{}\\[~]|€\f"

// segments counts the SMS segments body is sent in: 160 GSM-7 septets or
// 70 UCS-2 units in one segment, 153 or 67 per segment when concatenated.
func segments(body string) int {
	septets, isGSM := 0, true
	for _, r := range body {
		switch {
		case strings.ContainsRune(gsm7, r):
			septets++
		case strings.ContainsRune(gsm7ext, r):
			septets += 2
		default:
			isGSM = false
		}
	}
	n, single, multi := septets, 160, 153
	if !isGSM {
		n, single, multi = len(utf16.Encode([]rune(body))), 70, 67
	}
	if n <= single {
		return 1
	}
	return (n + multi - 1) / multi
}

// page is one page of a 2010 API list.
type page[T any] struct {
	items []T
	meta  map[string]any
}

// paginate cuts items (in list order) into the page r asks for, with
// Twilio's 2010 paging fields: PageSize (default 50, at most 1000), Page
// and PageToken ("PA" and the SID of the previous page's last item, so
// that items added meanwhile do not shift pages).
func paginate[T any](r *http.Request, path string, items []T, sidOf func(T) string) (page[T], error) {
	q := r.URL.Query()
	size, pageNo := 50, 0
	if v := q.Get("PageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return page[T]{}, errors.New("invalid PageSize: must be a positive integer")
		}
		size = min(n, 1000)
	}
	if v := q.Get("Page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return page[T]{}, errors.New("invalid Page: must be a non-negative integer")
		}
		pageNo = n
	}
	start := pageNo * size
	if tok := strings.TrimPrefix(q.Get("PageToken"), "PA"); tok != "" {
		for i, it := range items {
			if sidOf(it) == tok {
				start = i + 1
				break
			}
		}
	}
	start = min(start, len(items))
	end := min(start+size, len(items))

	filters := url.Values{}
	for k, v := range q {
		switch k {
		case "Page", "PageSize", "PageToken":
		default:
			filters[k] = v
		}
	}
	uri := func(pageNo int, token string) string {
		v := url.Values{}
		for k, vs := range filters {
			v[k] = vs
		}
		v.Set("PageSize", strconv.Itoa(size))
		v.Set("Page", strconv.Itoa(pageNo))
		if token != "" {
			v.Set("PageToken", token)
		}
		return path + "?" + v.Encode()
	}
	meta := map[string]any{
		"first_page_uri":    uri(0, ""),
		"next_page_uri":     nil,
		"previous_page_uri": nil,
		"page":              pageNo,
		"page_size":         size,
		"start":             start,
		"end":               max(end-1, start),
		"uri":               uri(pageNo, q.Get("PageToken")),
	}
	if end < len(items) {
		meta["next_page_uri"] = uri(pageNo+1, "PA"+sidOf(items[end-1]))
	}
	if pageNo > 0 {
		meta["previous_page_uri"] = uri(pageNo-1, "")
	}
	return page[T]{items: items[start:end], meta: meta}, nil
}

// event is a status change of a message, due at a time: it updates the
// message and POSTs its status callback.
type event struct {
	at        time.Time
	seq       uint64
	sid       string
	status    string
	errorCode int
	final     bool
}

// schedule queues ev, maybe held back (out of order) or doubled as
// Options ask. Called with s.mu held.
func (s *Server) schedule(ev event) {
	if !ev.final && s.opts.ReorderCallbacks > 0 && s.rnd.Float64() < s.opts.ReorderCallbacks {
		ev.at = ev.at.Add(2 * time.Second).Add(SentDelay * 2) // after the final status
	}
	s.push(ev)
	if s.opts.DuplicateCallbacks > 0 && s.rnd.Float64() < s.opts.DuplicateCallbacks {
		dup := ev
		dup.at = dup.at.Add(500 * time.Millisecond)
		s.push(dup)
	}
}

// push inserts ev in due order. Called with s.mu held.
func (s *Server) push(ev event) {
	s.seq++
	ev.seq = s.seq
	i, _ := slices.BinarySearchFunc(s.events, ev, func(a, b event) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	s.events = slices.Insert(s.events, i, ev)
	s.wakeUp()
}

// apply moves m to ev's status unless that would move it backwards.
func (m *message) apply(ev event, now time.Time) {
	if statusRank[ev.status] <= statusRank[m.Status] {
		return
	}
	m.Status = ev.status
	m.DateUpdated = now
	if ev.errorCode != 0 {
		m.ErrorCode = ev.errorCode
	}
	if m.DateSent.IsZero() && statusRank[ev.status] >= statusRank["sent"] {
		m.DateSent = ev.at
	}
}
