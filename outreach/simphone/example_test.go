package simphone_test

import (
	"context"
	"fmt"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/simphone"
)

func Example() {
	ctx := context.Background()
	clock := outreach.NewManualClock(time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC))
	net := simphone.New(clock, 1)
	net.Add("+14155550100", simphone.Persona{Responder: simphone.Scripted("7", "STOP")})
	sender := simphone.NewSender(net) // an outreach.Sender

	for _, body := range []string{
		"Hi Ann, thanks for visiting the clinic.",
		"On a scale of 0-10, how is your pain?",
		"Would you like to speak to someone about your pain? YES/NO",
	} {
		m := outreach.OutboundMessage{From: "+15005550006", To: "+14155550100", Body: body}
		if _, err := sender.Send(ctx, m); err != nil {
			fmt.Println(err)
		}
	}

	// Jump the clock from reply to reply, as a simulation does.
	for {
		at, ok := net.NextDue()
		if !ok {
			break
		}
		clock.Set(at)
		for _, in := range net.Due(clock.Now()) {
			fmt.Println(in.ReceivedAt.Format("15:04"), in.Body)
		}
	}

	_, err := sender.Send(ctx, outreach.OutboundMessage{From: "+15005550006", To: "+14155550100", Body: "Goodbye"})
	fmt.Println(err)
	// Output:
	// 10:01 7
	// 10:01 STOP
	// send permanent (code 21610): the recipient has opted out of messages from this sender (STOP)
}
