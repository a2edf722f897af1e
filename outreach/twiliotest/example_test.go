package twiliotest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"time"

	"github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/simphone"
	"github.com/patient-outreach/sms/outreach/twiliotest"
)

func Example() {
	ctx := context.Background()
	clock := outreach.NewManualClock(time.Date(2025, 3, 4, 15, 0, 0, 0, time.UTC))
	net := simphone.New(clock, 1)
	net.Add("+14155550100", simphone.Persona{Responder: simphone.Scripted("7")})
	srv := twiliotest.New(twiliotest.Options{Clock: clock, Network: net, Numbers: []string{"+15005550006"}})
	defer srv.Close()

	// Our webhooks: check the signature, print what arrives.
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		v := client.NewRequestValidator(srv.AuthToken())
		if !v.ValidateBody("http://"+r.Host+r.URL.Path, body, r.Header.Get(twiliotest.SignatureHeader)) {
			http.Error(w, "bad signature", http.StatusForbidden)
			return
		}
		form, _ := url.ParseQuery(string(body))
		switch r.URL.Path {
		case "/status":
			fmt.Println("status:", form.Get("MessageStatus"))
		case "/sms":
			fmt.Println("reply:", form.Get("Body"))
		}
	}))
	defer hooks.Close()
	srv.SetSmsURL("+15005550006", hooks.URL+"/sms")

	params := &api.CreateMessageParams{}
	params.SetFrom("+15005550006").SetTo("+14155550100").SetBody("How is your pain, 0-10?").SetStatusCallback(hooks.URL + "/status")
	msg, err := srv.Client().Api.CreateMessage(params)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("created:", *msg.Status)

	for at, ok := srv.Next(); ok; at, ok = srv.Next() {
		clock.Set(at)
		if err := srv.Step(ctx, at); err != nil {
			fmt.Println(err)
		}
	}
	// Output:
	// created: queued
	// status: queued
	// status: sent
	// status: delivered
	// reply: 7
}
