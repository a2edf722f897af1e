package twiliotest

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// messagingBase is the Messaging v1 Services resource, as twilio-go's
// rest/messaging/v1 client calls it.
const messagingBase = "https://messaging.twilio.com/v1/Services"

// mservice is a Messaging Service; s.mu guards it.
type mservice struct {
	sid, friendly  string
	pool           []string // sender pool, E.164, in order
	inboundURL     string   // InboundRequestUrl; "" is null
	inboundMethod  string
	fallbackURL    string
	fallbackMethod string
	statusCallback string
	// useNumberWebhook is UseInboundWebhookOnNumber: the pool numbers'
	// own SmsUrl gets their texts even when inboundURL is set.
	useNumberWebhook         bool
	dateCreated, dateUpdated time.Time
}

// AddMessagingService creates a Messaging Service whose sender pool is
// numbers (each provisioned as with [Server.AddNumber]) and returns its
// SID. A message created with this MessagingServiceSid and no From is
// sent from the pool's first number. The service starts with no
// InboundRequestUrl, so texts to its numbers go to each number's SmsUrl
// until one is set (through the Messaging v1 Services update, or
// [Server.SetServiceInboundURL]).
func (s *Server) AddMessagingService(numbers ...string) string {
	for _, n := range numbers {
		s.AddNumber(n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	sv := &mservice{
		sid: s.sid("MG"), friendly: "Messaging Service " + strconv.Itoa(len(s.services)+1), pool: slices.Clone(numbers),
		inboundMethod: http.MethodPost, fallbackMethod: http.MethodPost, dateCreated: now, dateUpdated: now,
	}
	s.services = append(s.services, sv)
	return sv.sid
}

// SetServiceInboundURL points the Messaging Service sid's incoming-message
// URL at inboundURL, as the API's update with InboundRequestUrl (method
// POST) and UseInboundWebhookOnNumber=false does: texts to the numbers of
// its sender pool then go to inboundURL, not to the numbers' SmsUrl. An
// empty inboundURL clears it. It reports false if there is no such
// service.
func (s *Server) SetServiceInboundURL(sid, inboundURL string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	sv := s.msgService(sid)
	if sv == nil {
		return false
	}
	sv.inboundURL, sv.inboundMethod, sv.useNumberWebhook = inboundURL, http.MethodPost, false
	sv.dateUpdated = s.clock.Now()
	return true
}

// msgService is called with s.mu held.
func (s *Server) msgService(sid string) *mservice {
	for _, sv := range s.services {
		if sv.sid == sid {
			return sv
		}
	}
	return nil
}

// serviceOfNumber returns the first service (in creation order) whose
// sender pool holds phone, or nil. Called with s.mu held.
func (s *Server) serviceOfNumber(phone string) *mservice {
	for _, sv := range s.services {
		if slices.Contains(sv.pool, phone) {
			return sv
		}
	}
	return nil
}

func (s *Server) messagingServiceJSON(sv *mservice) map[string]any {
	u := messagingBase + "/" + sv.sid
	return map[string]any{
		"sid":                           sv.sid,
		"account_sid":                   s.accountSID,
		"friendly_name":                 sv.friendly,
		"date_created":                  iso(sv.dateCreated),
		"date_updated":                  iso(sv.dateUpdated),
		"inbound_request_url":           nullable(sv.inboundURL),
		"inbound_method":                sv.inboundMethod,
		"fallback_url":                  nullable(sv.fallbackURL),
		"fallback_method":               sv.fallbackMethod,
		"status_callback":               nullable(sv.statusCallback),
		"sticky_sender":                 true,
		"mms_converter":                 true,
		"smart_encoding":                true,
		"scan_message_content":          "inherit",
		"fallback_to_long_code":         false,
		"area_code_geomatch":            true,
		"synchronous_validation":        true,
		"validity_period":               36000,
		"usecase":                       "undeclared",
		"us_app_to_person_registered":   false,
		"use_inbound_webhook_on_number": sv.useNumberWebhook,
		"url":                           u,
		"links": map[string]string{
			"phone_numbers":             u + "/PhoneNumbers",
			"short_codes":               u + "/ShortCodes",
			"alpha_senders":             u + "/AlphaSenders",
			"messages":                  u + "/Messages",
			"us_app_to_person":          u + "/Compliance/Usa2p",
			"us_app_to_person_usecases": u + "/Compliance/Usa2p/Usecases",
			"channel_senders":           u + "/ChannelSenders",
			"destination_alpha_senders": u + "/DestinationAlphaSenders",
		},
	}
}

func (s *Server) listMessagingServices(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	writeV2Page(w, r, messagingBase, "services", s.services,
		func(sv *mservice) string { return sv.sid }, s.messagingServiceJSON)
}

func (s *Server) fetchMessagingService(w http.ResponseWriter, r *http.Request, p map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sv := s.msgService(p["sid"])
	if sv == nil {
		notFound(w, r)
		return
	}
	writeJSON(w, http.StatusOK, s.messagingServiceJSON(sv))
}

// updateMessagingService sets FriendlyName, InboundRequestUrl,
// InboundMethod, FallbackUrl, FallbackMethod, StatusCallback and
// UseInboundWebhookOnNumber; other parameters are accepted and ignored.
// An empty URL clears it. Bad values are refused with 400, code 20001,
// and change nothing.
func (s *Server) updateMessagingService(w http.ResponseWriter, r *http.Request, p map[string]string) {
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, 20001, "Invalid request body")
		return
	}
	f := r.PostForm
	bad := func(format string, args ...any) {
		writeError(w, http.StatusBadRequest, 20001, "Invalid parameter: "+fmt.Sprintf(format, args...))
	}
	for _, k := range []string{"InboundRequestUrl", "FallbackUrl", "StatusCallback"} {
		if v := f.Get(k); v != "" {
			if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad("%s must be an absolute http or https URL", k)
				return
			}
		}
	}
	for _, k := range []string{"InboundMethod", "FallbackMethod"} {
		if v, ok := f[k]; ok {
			if m := strings.ToUpper(v[0]); m != http.MethodGet && m != http.MethodPost {
				bad("%s must be GET or POST", k)
				return
			}
		}
	}
	var useNumber *bool
	if v, ok := f["UseInboundWebhookOnNumber"]; ok {
		b, err := strconv.ParseBool(v[0])
		if err != nil {
			bad("UseInboundWebhookOnNumber must be true or false")
			return
		}
		useNumber = &b
	}
	if v, ok := f["FriendlyName"]; ok && (v[0] == "" || len(v[0]) > 64) {
		bad("FriendlyName must be 1 to 64 characters")
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	sv := s.msgService(p["sid"])
	if sv == nil {
		notFound(w, r)
		return
	}
	if v, ok := f["FriendlyName"]; ok {
		sv.friendly = v[0]
	}
	if v, ok := f["InboundRequestUrl"]; ok {
		sv.inboundURL = v[0]
	}
	if v, ok := f["InboundMethod"]; ok {
		sv.inboundMethod = strings.ToUpper(v[0])
	}
	if v, ok := f["FallbackUrl"]; ok {
		sv.fallbackURL = v[0]
	}
	if v, ok := f["FallbackMethod"]; ok {
		sv.fallbackMethod = strings.ToUpper(v[0])
	}
	if v, ok := f["StatusCallback"]; ok {
		sv.statusCallback = v[0]
	}
	if useNumber != nil {
		sv.useNumberWebhook = *useNumber
	}
	sv.dateUpdated = s.clock.Now()
	writeJSON(w, http.StatusOK, s.messagingServiceJSON(sv))
}
