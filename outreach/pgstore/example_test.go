package pgstore_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/pgstore"
)

// Open a store on the database of OUTREACH_DATABASE_URL (in a schema of
// its own), create a campaign from rows with a repeated recipient, and
// wake a runner whenever another process records new work. It needs a
// server, so it is compiled but not run by go test.
func ExampleOpen() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store, err := pgstore.Open(ctx, os.Getenv("OUTREACH_DATABASE_URL"), pgstore.WithSchema("outreach"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	rows := []outreach.Conversation{
		{Recipient: outreach.Recipient{ID: "p1", FirstName: "Ann", Phone: "+14406443701"}, TwoWay: true},
		{Recipient: outreach.Recipient{ID: "p2", FirstName: "Bob", Phone: "+14406443702"}, TwoWay: true},
		{Recipient: outreach.Recipient{ID: "p1", FirstName: "Ann", Phone: "+14406443701"}, TwoWay: true}, // a duplicate row
	}
	c, added, err := store.CreateCampaign(ctx, outreach.Campaign{Name: "check-in", From: "+15005550006"}, rows)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Status, added) // draft 2

	// A runner's Wake would go here: go store.Listen(ctx, runner.Wake).
	wake := store.Wake(ctx)
	go func() {
		for range wake {
			fmt.Println("new work")
		}
	}()
}
