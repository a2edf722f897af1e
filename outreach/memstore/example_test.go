package memstore_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/memstore"
)

func ExampleNew() {
	ctx := context.Background()
	store := memstore.New()
	defer store.Close()

	now := time.Date(2025, 3, 3, 15, 0, 0, 0, time.UTC)
	c, _, err := store.CreateCampaign(ctx, outreach.Campaign{Name: "welcome", From: "+15005550006"},
		[]outreach.Conversation{{Recipient: outreach.Recipient{ID: "m1", Phone: "+14406443701"}, NextAt: now}})
	if err != nil {
		log.Fatal(err)
	}
	if err := store.SetCampaignStatus(ctx, c.ID, outreach.CampaignRunning, now); err != nil {
		log.Fatal(err)
	}
	claims, err := store.ClaimDue(ctx, outreach.Scope{Runtime: outreach.RuntimeEmbedded}, now, 10, time.Minute)
	if err != nil {
		log.Fatal(err)
	}
	for _, cl := range claims {
		fmt.Println(cl.Conversation.Recipient.ID, cl.Lease.Expires.Sub(now))
	}
	// Output:
	// m1 1m0s
}
