package twiliotest_test

import (
	"testing"
	"time"

	verify "github.com/twilio/twilio-go/rest/verify/v2"

	"github.com/patient-outreach/sms/outreach/twiliotest"
)

func TestVerify(t *testing.T) {
	f := newFixture(t, twiliotest.Options{})
	c := f.srv.Client().VerifyV2

	var sids []string
	for _, name := range []string{"Clinic A", "Clinic B", "Clinic C"} {
		sv, err := c.CreateService(&verify.CreateServiceParams{FriendlyName: &name})
		if err != nil || *sv.FriendlyName != name || sv.CodeLength != 6 || len(*sv.Sid) != 34 {
			t.Fatalf("create service: %+v, %v", sv, err)
		}
		sids = append(sids, *sv.Sid)
	}
	// Paging follows absolute https://verify.twilio.com next_page_url links.
	all, err := c.ListService(&verify.ListServiceParams{PageSize: ptr(1)})
	if err != nil || len(all) != 3 || *all[2].Sid != sids[2] {
		t.Fatalf("list services: %d, %v", len(all), err)
	}
	if n := f.srv.Requests(twiliotest.ListVerifyServices); n != 3 {
		t.Fatalf("%d list requests, want 3", n)
	}
	if sv, err := c.FetchService(sids[1]); err != nil || *sv.FriendlyName != "Clinic B" {
		t.Fatalf("fetch service: %v", err)
	}
	_, err = c.FetchService("VA00000000000000000000000000000000")
	restError(t, err, 404, 20404)

	svc := sids[0]
	start := func() *verify.VerifyV2Verification {
		t.Helper()
		v, err := c.CreateVerification(svc, &verify.CreateVerificationParams{To: ptr(ann), Channel: ptr("sms")})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	check := func(code string) (*verify.VerifyV2VerificationCheck, error) {
		return c.CreateVerificationCheck(svc, &verify.CreateVerificationCheckParams{To: ptr(ann), Code: &code})
	}

	// Wrong, then right code.
	v := start()
	if *v.Status != "pending" || *v.Channel != "sms" {
		t.Fatalf("verification %+v", v)
	}
	code, ok := f.srv.VerifyCode(svc, ann)
	if !ok || len(code) != 6 {
		t.Fatalf("code %q, %v", code, ok)
	}
	if ch, err := check("000000" + "x"); err != nil || *ch.Status != "pending" || *ch.Valid {
		t.Fatalf("wrong code: %+v, %v", ch, err)
	}
	if ch, err := check(code); err != nil || *ch.Status != "approved" || !*ch.Valid {
		t.Fatalf("right code: %+v, %v", ch, err)
	}
	if fv, err := c.FetchVerification(svc, *v.Sid); err != nil || *fv.Status != "approved" {
		t.Fatalf("fetch: %+v, %v", fv, err)
	}
	// A code works once.
	_, err = check(code)
	restError(t, err, 404, 20404)

	// At most 5 sends, with the same code.
	start()
	code, _ = f.srv.VerifyCode(svc, ann)
	for range twiliotest.MaxSends - 1 {
		start()
	}
	if again, _ := f.srv.VerifyCode(svc, ann); again != code {
		t.Fatal("a resend changed the code")
	}
	_, err = c.CreateVerification(svc, &verify.CreateVerificationParams{To: ptr(ann), Channel: ptr("sms")})
	restError(t, err, 429, 60203)

	// At most 5 checks, then canceled.
	for i := range twiliotest.MaxChecks {
		ch, err := check("wrong")
		want := "pending"
		if i == twiliotest.MaxChecks-1 {
			want = "canceled"
		}
		if err != nil || *ch.Status != want {
			t.Fatalf("check %d: %+v, %v", i, ch, err)
		}
	}
	_, err = check(code)
	restError(t, err, 404, 20404)

	// Expiry after 10 minutes, by the server's clock.
	start()
	code, _ = f.srv.VerifyCode(svc, ann)
	f.clock.Advance(twiliotest.VerificationTTL)
	_, err = check(code)
	restError(t, err, 404, 20404)
	if _, ok := f.srv.VerifyCode(svc, ann); ok {
		t.Fatal("an expired code is readable")
	}
	f.clock.Advance(time.Second)
}
