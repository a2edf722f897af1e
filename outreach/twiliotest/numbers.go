package twiliotest

import (
	"net/http"
	"net/url"
	"strings"
	"time"
)

// number is an IncomingPhoneNumber; s.mu guards it.
type number struct {
	sid, phone, friendly     string
	smsURL, smsMethod        string
	statusCallback           string
	dateCreated, dateUpdated time.Time
}

// AddNumber provisions phone (E.164) on the account, as buying it does,
// and returns its SID ("PN..."). Messages may be sent from it, and texts
// the simulated phones send to it are POSTed to its SmsUrl (set through
// the API's IncomingPhoneNumbers update, or [Server.SetSmsURL]). Adding a
// number twice returns the same SID.
func (s *Server) AddNumber(phone string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.numberByPhone(phone); n != nil {
		return n.sid
	}
	now := s.clock.Now()
	n := &number{sid: s.sid("PN"), phone: phone, friendly: friendlyName(phone), smsMethod: http.MethodPost, dateCreated: now, dateUpdated: now}
	s.numbers = append(s.numbers, n)
	return n.sid
}

// SetSmsURL sets the SmsUrl of the provisioned number phone, as the API's
// update does; it reports false if phone is not provisioned.
func (s *Server) SetSmsURL(phone, smsURL string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.numberByPhone(phone)
	if n == nil {
		return false
	}
	n.smsURL, n.dateUpdated = smsURL, s.clock.Now()
	return true
}

// numberByPhone is called with s.mu held.
func (s *Server) numberByPhone(phone string) *number {
	for _, n := range s.numbers {
		if n.phone == phone {
			return n
		}
	}
	return nil
}

func (s *Server) numberBySID(sid string) *number {
	for _, n := range s.numbers {
		if n.sid == sid {
			return n
		}
	}
	return nil
}

// friendlyName formats a North American number as Twilio does.
func friendlyName(phone string) string {
	if len(phone) == 12 && strings.HasPrefix(phone, "+1") {
		return "(" + phone[2:5] + ") " + phone[5:8] + "-" + phone[8:]
	}
	return phone
}

type capabilities struct {
	Fax   bool `json:"fax"`
	MMS   bool `json:"mms"`
	SMS   bool `json:"sms"`
	Voice bool `json:"voice"`
}

type numberJSON struct {
	AccountSID           string       `json:"account_sid"`
	APIVersion           string       `json:"api_version"`
	Capabilities         capabilities `json:"capabilities"`
	DateCreated          string       `json:"date_created"`
	DateUpdated          string       `json:"date_updated"`
	FriendlyName         string       `json:"friendly_name"`
	Origin               string       `json:"origin"`
	PhoneNumber          string       `json:"phone_number"`
	SID                  string       `json:"sid"`
	SmsApplicationSID    string       `json:"sms_application_sid"`
	SmsFallbackMethod    string       `json:"sms_fallback_method"`
	SmsFallbackURL       string       `json:"sms_fallback_url"`
	SmsMethod            string       `json:"sms_method"`
	SmsURL               string       `json:"sms_url"`
	Status               string       `json:"status"`
	StatusCallback       string       `json:"status_callback"`
	StatusCallbackMethod string       `json:"status_callback_method"`
	URI                  string       `json:"uri"`
}

func (s *Server) numberJSON(n *number) numberJSON {
	return numberJSON{
		AccountSID:           s.accountSID,
		APIVersion:           "2010-04-01",
		Capabilities:         capabilities{MMS: true, SMS: true, Voice: true},
		DateCreated:          rfc2822(n.dateCreated),
		DateUpdated:          rfc2822(n.dateUpdated),
		FriendlyName:         n.friendly,
		Origin:               "twilio",
		PhoneNumber:          n.phone,
		SID:                  n.sid,
		SmsFallbackMethod:    http.MethodPost,
		SmsMethod:            n.smsMethod,
		SmsURL:               n.smsURL,
		Status:               "in-use",
		StatusCallback:       n.statusCallback,
		StatusCallbackMethod: http.MethodPost,
		URI:                  "/2010-04-01/Accounts/" + s.accountSID + "/IncomingPhoneNumbers/" + n.sid + ".json",
	}
}

func (s *Server) listNumbers(w http.ResponseWriter, r *http.Request, p map[string]string) {
	q := r.URL.Query()
	phone, friendly := q.Get("PhoneNumber"), q.Get("FriendlyName")
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []*number
	for _, n := range s.numbers {
		if (phone != "" && !strings.Contains(n.phone, phone)) || (friendly != "" && n.friendly != friendly) {
			continue
		}
		all = append(all, n)
	}
	pg, err := paginate(r, "/2010-04-01/Accounts/"+p["acct"]+"/IncomingPhoneNumbers.json", all, func(n *number) string { return n.sid })
	if err != nil {
		writeError(w, http.StatusBadRequest, 20001, err.Error())
		return
	}
	items := make([]numberJSON, len(pg.items))
	for i, n := range pg.items {
		items[i] = s.numberJSON(n)
	}
	pg.meta["incoming_phone_numbers"] = items
	writeJSON(w, http.StatusOK, pg.meta)
}

func (s *Server) fetchNumber(w http.ResponseWriter, r *http.Request, p map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.numberBySID(p["sid"])
	if n == nil {
		notFound(w, r)
		return
	}
	writeJSON(w, http.StatusOK, s.numberJSON(n))
}

// updateNumber sets SmsUrl, SmsMethod (only POST is used to deliver),
// FriendlyName and StatusCallback.
func (s *Server) updateNumber(w http.ResponseWriter, r *http.Request, p map[string]string) {
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, 20001, "Invalid request body")
		return
	}
	f := r.PostForm
	if v, ok := f["SmsUrl"]; ok && v[0] != "" {
		if u, err := url.Parse(v[0]); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			writeError(w, http.StatusBadRequest, 21502, "SmsUrl is not valid")
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.numberBySID(p["sid"])
	if n == nil {
		notFound(w, r)
		return
	}
	if v, ok := f["SmsUrl"]; ok {
		n.smsURL = v[0]
	}
	if v := f.Get("SmsMethod"); v != "" {
		n.smsMethod = strings.ToUpper(v)
	}
	if v, ok := f["FriendlyName"]; ok {
		n.friendly = v[0]
	}
	if v, ok := f["StatusCallback"]; ok {
		n.statusCallback = v[0]
	}
	n.dateUpdated = s.clock.Now()
	writeJSON(w, http.StatusOK, s.numberJSON(n))
}
