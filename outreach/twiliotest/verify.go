package twiliotest

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Verify limits, as Twilio Verify applies them.
const (
	// VerificationTTL is how long a verification code stays valid.
	VerificationTTL = 10 * time.Minute
	// MaxSends is how many times a code may be sent for one verification.
	MaxSends = 5
	// MaxChecks is how many checks one verification allows; after the
	// last wrong one it is canceled.
	MaxChecks = 5
)

const verifyBase = "https://verify.twilio.com/v2/Services"

type verifyState struct {
	services []*vservice
}

type vservice struct {
	sid, friendly    string
	codeLength       int
	created, updated time.Time
	verifications    []*verification
}

type verification struct {
	sid, to, channel, status, code string
	sends, checks                  int
	created, updated, expires      time.Time
	sendTimes                      []time.Time
}

func (s *Server) service(sid string) *vservice {
	for _, sv := range s.verify.services {
		if sv.sid == sid {
			return sv
		}
	}
	return nil
}

// pending returns the live verification of to, expiring it if its time
// is up. Called with s.mu held.
func (sv *vservice) pending(to string, now time.Time) *verification {
	for _, v := range sv.verifications {
		if v.to != to || v.status != "pending" {
			continue
		}
		if !now.Before(v.expires) {
			v.status, v.updated = "expired", now
			continue
		}
		return v
	}
	return nil
}

// VerifyCode returns the code of the pending verification of to in the
// Verify service serviceSid, as the phone would receive it by SMS (the
// fake does not text codes through the simulated network).
func (s *Server) VerifyCode(serviceSid, to string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sv := s.service(serviceSid)
	if sv == nil {
		return "", false
	}
	v := sv.pending(to, s.clock.Now())
	if v == nil {
		return "", false
	}
	return v.code, true
}

func iso(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (s *Server) serviceJSON(sv *vservice) map[string]any {
	u := verifyBase + "/" + sv.sid
	return map[string]any{
		"sid": sv.sid, "account_sid": s.accountSID, "friendly_name": sv.friendly,
		"code_length": sv.codeLength, "lookup_enabled": false, "psd2_enabled": false,
		"skip_sms_to_landlines": false, "dtmf_input_required": true, "tts_name": nil,
		"do_not_share_warning_enabled": false, "custom_code_enabled": false,
		"push": map[string]any{}, "totp": map[string]any{}, "whatsapp": map[string]any{},
		"default_template_sid": nil, "verify_event_subscription_enabled": false,
		"date_created": iso(sv.created), "date_updated": iso(sv.updated), "url": u,
		"links": map[string]string{
			"verifications":       u + "/Verifications",
			"verification_checks": u + "/VerificationCheck",
		},
	}
}

func (s *Server) verificationJSON(sv *vservice, v *verification) map[string]any {
	attempts := make([]map[string]any, len(v.sendTimes))
	for i, t := range v.sendTimes {
		attempts[i] = map[string]any{"attempt_sid": fmt.Sprintf("VL%032x", i+1), "channel": v.channel, "time": iso(t)}
	}
	return map[string]any{
		"sid": v.sid, "service_sid": sv.sid, "account_sid": s.accountSID,
		"to": v.to, "channel": v.channel, "status": v.status, "valid": v.status == "approved",
		"lookup": map[string]any{}, "amount": nil, "payee": nil,
		"send_code_attempts": attempts, "sna": nil,
		"date_created": iso(v.created), "date_updated": iso(v.updated),
		"url": verifyBase + "/" + sv.sid + "/Verifications/" + v.sid,
	}
}

func (s *Server) createService(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, 20001, "Invalid request body")
		return
	}
	name := r.PostForm.Get("FriendlyName")
	if name == "" {
		writeError(w, http.StatusBadRequest, 20001, "Missing required parameter FriendlyName in the post body")
		return
	}
	length := 6
	if v := r.PostForm.Get("CodeLength"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 4 || n > 10 {
			writeError(w, http.StatusBadRequest, 60200, "Invalid parameter: CodeLength must be 4 to 10")
			return
		}
		length = n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	sv := &vservice{sid: s.sid("VA"), friendly: name, codeLength: length, created: now, updated: now}
	s.verify.services = append(s.verify.services, sv)
	writeJSON(w, http.StatusCreated, s.serviceJSON(sv))
}

func (s *Server) listServices(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	writeV2Page(w, r, verifyBase, "services", s.verify.services,
		func(sv *vservice) string { return sv.sid }, s.serviceJSON)
}

func (s *Server) fetchService(w http.ResponseWriter, r *http.Request, p map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sv := s.service(p["sid"])
	if sv == nil {
		notFound(w, r)
		return
	}
	writeJSON(w, http.StatusOK, s.serviceJSON(sv))
}

func (s *Server) createVerification(w http.ResponseWriter, r *http.Request, p map[string]string) {
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, 20001, "Invalid request body")
		return
	}
	to, channel := r.PostForm.Get("To"), r.PostForm.Get("Channel")
	switch {
	case to == "" || channel == "":
		writeError(w, http.StatusBadRequest, 60200, "Invalid parameter: To and Channel are required")
		return
	case channel != "sms" && channel != "call" && channel != "email" && channel != "whatsapp":
		writeError(w, http.StatusBadRequest, 60200, "Invalid parameter: Channel")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sv := s.service(p["svc"])
	if sv == nil {
		notFound(w, r)
		return
	}
	now := s.clock.Now()
	v := sv.pending(to, now)
	if v != nil && v.sends >= MaxSends {
		writeError(w, http.StatusTooManyRequests, 60203, "Max send attempts reached")
		return
	}
	if v == nil {
		code := ""
		for range sv.codeLength {
			code += strconv.Itoa(int(s.rnd.IntN(10)))
		}
		v = &verification{sid: s.sid("VE"), to: to, channel: channel, status: "pending", code: code, created: now, expires: now.Add(VerificationTTL)}
		sv.verifications = append(sv.verifications, v)
	}
	v.sends++
	v.channel = channel
	v.updated = now
	v.sendTimes = append(v.sendTimes, now)
	writeJSON(w, http.StatusCreated, s.verificationJSON(sv, v))
}

func (s *Server) fetchVerification(w http.ResponseWriter, r *http.Request, p map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sv := s.service(p["svc"])
	if sv == nil {
		notFound(w, r)
		return
	}
	now := s.clock.Now()
	for _, v := range sv.verifications {
		if v.sid == p["sid"] {
			sv.pending(v.to, now) // expire it if its time is up
			writeJSON(w, http.StatusOK, s.verificationJSON(sv, v))
			return
		}
	}
	notFound(w, r)
}

func (s *Server) checkVerification(w http.ResponseWriter, r *http.Request, p map[string]string) {
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, 20001, "Invalid request body")
		return
	}
	to, vsid, code := r.PostForm.Get("To"), r.PostForm.Get("VerificationSid"), r.PostForm.Get("Code")
	if (to == "" && vsid == "") || code == "" {
		writeError(w, http.StatusBadRequest, 60200, "Invalid parameter: Code and To or VerificationSid are required")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sv := s.service(p["svc"])
	if sv == nil {
		notFound(w, r)
		return
	}
	now := s.clock.Now()
	var v *verification
	if vsid != "" {
		for _, x := range sv.verifications {
			if x.sid == vsid && sv.pending(x.to, now) == x {
				v = x
			}
		}
	} else {
		v = sv.pending(to, now)
	}
	if v == nil {
		notFound(w, r)
		return
	}
	v.checks++
	v.updated = now
	switch {
	case code == v.code:
		v.status = "approved"
	case v.checks >= MaxChecks:
		v.status = "canceled"
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"sid": v.sid, "service_sid": sv.sid, "account_sid": s.accountSID,
		"to": v.to, "channel": v.channel, "status": v.status, "valid": v.status == "approved",
		"amount": nil, "payee": nil, "sna_attempts_error_codes": []any{},
		"date_created": iso(v.created), "date_updated": iso(v.updated),
	})
}
