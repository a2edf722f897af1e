package sqlitestore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/sqlitestore"
)

func ExampleOpen() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "outreach")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	store, err := sqlitestore.Open(ctx, filepath.Join(dir, "outreach.db"))
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
	fmt.Println(c.Status, added)

	// Re-uploading the same rows adds nothing.
	added, err = store.AddConversations(ctx, c.ID, rows)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(added)
	// Output:
	// draft 2
	// 0
}
