package twilioenv_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	openapi "github.com/twilio/twilio-go/rest/api/v2010"
	studioapi "github.com/twilio/twilio-go/rest/studio/v2"

	"github.com/patient-outreach/sms/internal/twilioenv"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/simphone"
	"github.com/patient-outreach/sms/outreach/twiliotest"
)

const (
	sid   = "AC0123456789abcdef0123456789abcdef"
	token = "s3cr3tT0kenValue0123456789abcdef"
	mg    = "MG0123456789abcdef0123456789abcdef"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    twilioenv.Config
		wantErr []string // substrings of the error; nil: no error
	}{
		{name: "nothing set", env: nil, want: twilioenv.Config{}},
		{
			name: "all set",
			env: map[string]string{
				"TWILIO_ACCOUNT_SID": sid, "TWILIO_AUTH_TOKEN": token,
				"TWILIO_PHONE_NUMBER": "(500) 555-0006", "TWILIO_MESSAGING_SERVICE_SID": mg,
				"TWILIO_API_BASE": "http://127.0.0.1:8080/",
			},
			want: twilioenv.Config{AccountSID: sid, AuthToken: token, PhoneNumber: "+15005550006", MessagingServiceSID: mg, APIBase: "http://127.0.0.1:8080"},
		},
		{
			name: "blueprint names",
			env:  map[string]string{"ACCOUNT_SID": sid, "AUTH_TOKEN": token},
			want: twilioenv.Config{AccountSID: sid, AuthToken: token},
		},
		{
			name: "TWILIO_ names win",
			env:  map[string]string{"ACCOUNT_SID": "ACnope", "TWILIO_ACCOUNT_SID": sid, "AUTH_TOKEN": "x", "TWILIO_AUTH_TOKEN": token},
			want: twilioenv.Config{AccountSID: sid, AuthToken: token},
		},
		{
			name: "spaces trimmed",
			env:  map[string]string{"TWILIO_ACCOUNT_SID": " " + sid + "\n", "TWILIO_AUTH_TOKEN": token + " "},
			want: twilioenv.Config{AccountSID: sid, AuthToken: token},
		},
		{name: "token alone", env: map[string]string{"TWILIO_AUTH_TOKEN": token}, wantErr: []string{"TWILIO_AUTH_TOKEN is set but TWILIO_ACCOUNT_SID is not"}},
		{name: "sid alone", env: map[string]string{"TWILIO_ACCOUNT_SID": sid}, wantErr: []string{"TWILIO_ACCOUNT_SID is set but TWILIO_AUTH_TOKEN is not"}},
		{name: "api key instead of account", env: map[string]string{"TWILIO_ACCOUNT_SID": "SK0123456789abcdef0123456789abcdef", "TWILIO_AUTH_TOKEN": token}, wantErr: []string{"TWILIO_ACCOUNT_SID must be \"AC\" followed by 32 hex digits"}},
		{name: "short sid", env: map[string]string{"TWILIO_ACCOUNT_SID": "AC0123", "TWILIO_AUTH_TOKEN": token}, wantErr: []string{"TWILIO_ACCOUNT_SID"}},
		{name: "token with symbols", env: map[string]string{"TWILIO_ACCOUNT_SID": sid, "TWILIO_AUTH_TOKEN": "abc$def"}, wantErr: []string{"TWILIO_AUTH_TOKEN must be letters and digits"}},
		{name: "bad phone", env: map[string]string{"TWILIO_PHONE_NUMBER": "555-1234"}, wantErr: []string{"TWILIO_PHONE_NUMBER is not a phone number"}},
		{name: "letters in phone", env: map[string]string{"TWILIO_PHONE_NUMBER": "1-800-FLOWERS"}, wantErr: []string{"TWILIO_PHONE_NUMBER"}},
		{name: "bad service", env: map[string]string{"TWILIO_MESSAGING_SERVICE_SID": "MG12"}, wantErr: []string{"TWILIO_MESSAGING_SERVICE_SID must be"}},
		{name: "base without scheme", env: map[string]string{"TWILIO_API_BASE": "127.0.0.1:8080"}, wantErr: []string{"TWILIO_API_BASE"}},
		{name: "base with path", env: map[string]string{"TWILIO_API_BASE": "http://127.0.0.1:8080/v2"}, wantErr: []string{"TWILIO_API_BASE: must be a scheme and host only"}},
		{name: "base with ftp", env: map[string]string{"TWILIO_API_BASE": "ftp://example.com"}, wantErr: []string{"http:// or https://"}},
		{
			name:    "every problem at once",
			env:     map[string]string{"TWILIO_ACCOUNT_SID": "nope", "TWILIO_AUTH_TOKEN": "bad token!", "TWILIO_PHONE_NUMBER": "12"},
			wantErr: []string{"TWILIO_ACCOUNT_SID must", "TWILIO_AUTH_TOKEN must", "TWILIO_PHONE_NUMBER"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := twilioenv.FromEnv(env(tc.env))
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("FromEnv: %v", err)
				}
				if got != tc.want {
					t.Fatalf("FromEnv = %+v, want %+v", got, tc.want)
				}
				if got.Configured() != (tc.want.AccountSID != "") {
					t.Fatalf("Configured() = %v", got.Configured())
				}
				return
			}
			if err == nil {
				t.Fatalf("FromEnv = %+v, want an error", got)
			}
			if !errors.Is(err, twilioenv.ErrInvalid) {
				t.Errorf("error %v does not match ErrInvalid", err)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			for _, v := range tc.env {
				if len(v) > 3 && strings.Contains(err.Error(), v) {
					t.Errorf("error %q echoes the value %q", err, v)
				}
			}
		})
	}
}

func TestStringHidesToken(t *testing.T) {
	c := twilioenv.Config{AccountSID: sid, AuthToken: token, PhoneNumber: "+15005550006"}
	for _, s := range []string{c.String(), fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c)} {
		if strings.Contains(s, token) || strings.Contains(s, sid) || strings.Contains(s, "5550006") {
			t.Errorf("%q shows a secret or a full number", s)
		}
	}
	if got := (twilioenv.Config{}).String(); got != "twilio: not configured" {
		t.Errorf("zero Config String = %q", got)
	}
}

func TestIsTwilioHost(t *testing.T) {
	for host, want := range map[string]bool{
		"api.twilio.com": true, "studio.twilio.com:443": true, "verify.twilio.com": true,
		"messaging.twilio.com": true, "API.TWILIO.COM": true, "twilio.com": true, "api.twilio.com.": true,
		"example.com": false, "twilio.com.evil.example": false, "nottwilio.com": false, "127.0.0.1:80": false,
	} {
		if got := twilioenv.IsTwilioHost(host); got != want {
			t.Errorf("IsTwilioHost(%q) = %v, want %v", host, got, want)
		}
	}
}

// TestRoundTrip drives the fake Twilio with the twilio-go client FromEnv
// builds: the 2010 API (a message, and a listing whose second page comes
// from a pagination link) and Studio v2 hosts are all rewritten to the fake.
func TestRoundTrip(t *testing.T) {
	clock := clocktest.Real(t)
	net := simphone.New(clock, 1)
	net.Add("+14155550100", simphone.Persona{Silent: true})
	srv := twiliotest.New(twiliotest.Options{Clock: clock, Network: net, Numbers: []string{"+15005550006"}})
	defer srv.Close()

	cfg, err := twilioenv.FromEnv(env(map[string]string{
		"TWILIO_ACCOUNT_SID": srv.AccountSID(), "TWILIO_AUTH_TOKEN": srv.AuthToken(),
		"TWILIO_PHONE_NUMBER": "+15005550006", "TWILIO_API_BASE": srv.URL(),
	}))
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Client()
	for i := range 3 {
		p := &openapi.CreateMessageParams{}
		p.SetFrom(cfg.PhoneNumber).SetTo("+14155550100").SetBody(fmt.Sprintf("hello %d", i))
		if _, err := c.Api.CreateMessage(p); err != nil {
			t.Fatalf("CreateMessage: %v", err)
		}
	}
	lp := &openapi.ListMessageParams{}
	lp.SetPageSize(1)
	msgs, err := c.Api.ListMessage(lp)
	if err != nil {
		t.Fatalf("ListMessage: %v", err)
	}
	if len(msgs) != 3 {
		t.Fatalf("listed %d messages over pages of 1, want 3", len(msgs))
	}
	flows, err := c.StudioV2.ListFlow(&studioapi.ListFlowParams{})
	if err != nil {
		t.Fatalf("ListFlow: %v", err)
	}
	if len(flows) != 0 {
		t.Fatalf("a new account has %d flows", len(flows))
	}

	// Wrong credentials: the fake answers 401, as Twilio does.
	bad := cfg
	bad.AuthToken = "0000"
	if _, err := bad.Client().Api.ListMessage(lp); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong token: %v, want a 401", err)
	}
}

// TestRewriteOnlyTwilio checks that hosts other than Twilio's are left alone.
func TestRewriteOnlyTwilio(t *testing.T) {
	var hosts []string
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hosts = append(hosts, r.Header.Get("X-Forwarded-Host"))
	}))
	defer fake.Close()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	defer other.Close()

	hc := twilioenv.Config{APIBase: fake.URL}.HTTPClient()
	for _, u := range []string{"https://api.twilio.com/2010-04-01/Accounts.json", "https://studio.twilio.com/v2/Flows?Page=1"} {
		resp, err := hc.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := hc.Get(other.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTeapot {
		t.Errorf("a non-Twilio host was rewritten: status %d", resp.StatusCode)
	}
	if strings.Join(hosts, ",") != "api.twilio.com,studio.twilio.com" {
		t.Errorf("fake saw hosts %v", hosts)
	}
}
