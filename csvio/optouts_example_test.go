package csvio_test

import (
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/patient-outreach/sms/csvio"
	"github.com/patient-outreach/sms/outreach/memstore"
)

// A CRM's list of opt-outs is read, imported into a store, and exported
// back in the library's own form.
func ExampleReadOptOuts() {
	ctx := context.Background()
	crm := strings.NewReader(`Name,Patient Phone,Opted Out,Changed At
Maya,(440) 644-3709,yes,2026-03-01T09:00:00-05:00
Jonah,808-941-2275,no,2026-03-02T08:00:00Z
Lena,555-1234,yes,
Rosa,440.644.3701,no,
`)
	file, err := csvio.ReadOptOuts(crm, csvio.Options{})
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range file.Errors {
		fmt.Println("error:", e)
	}
	store := memstore.New()
	defer store.Close()
	now := time.Date(2026, 3, 2, 17, 0, 0, 0, time.UTC) // rows without changed_at take this time
	n, refused, err := csvio.ImportOptOuts(ctx, store, "", file.OptOuts, now)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d rows, %d imported, %d refused\n", file.Rows, n, file.BadRows+len(refused))
	var out strings.Builder
	if _, err := csvio.ExportOptOuts(ctx, &out, store); err != nil {
		log.Fatal(err)
	}
	fmt.Print(strings.TrimPrefix(out.String(), "\ufeff")) // the byte order mark, for Excel
	// Output:
	// error: line 4, column phone: phone number is too short: check for missing digits or a missing area code
	// error: line 5, column changed_at: a row with opted_out=no needs its changed_at, so that it cannot undo a newer STOP
	// 4 rows, 2 imported, 2 refused
	// phone,opted_out,changed_at
	// '+14406443709,true,2026-03-01T14:00:00Z
	// '+18089412275,false,2026-03-02T08:00:00Z
}
