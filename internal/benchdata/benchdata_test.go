package benchdata

import (
	"bytes"
	"context"
	"testing"

	"github.com/patient-outreach/sms/csvio"
	"github.com/patient-outreach/sms/outreach"
)

// TestRecipients: the same seed gives the same bytes, and the file holds
// the mix it reports, as csvio reads it.
func TestRecipients(t *testing.T) {
	const n = 20000
	var a, b bytes.Buffer
	ca, err := WriteRecipients(&a, n, DefaultMix)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := WriteRecipients(&b, n, DefaultMix); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two files of one seed differ")
	}
	if ca.Rows != n || ca.Bad < n/200 || ca.Duplicates < n/400 || ca.International < n/100 {
		t.Fatalf("counts %+v: want about 1%% bad, 0.5%% duplicates, 3%% international", ca)
	}
	res, err := csvio.ReadAll(context.Background(), &a, csvio.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bad := res.BadRows
	// Bad phones and repeated ids are rows in error, and so are the
	// numbers with an extension (one NANP format in seven) and a few that
	// phonenumbers' metadata finds invalid.
	if bad < ca.Bad+ca.Duplicates/2 || bad > n/4 {
		t.Errorf("%d rows in error; the file has %d bad phones and %d duplicates", bad, ca.Bad, ca.Duplicates)
	}
}

func TestPhones(t *testing.T) {
	p := Phones(10000, DefaultMix)
	valid := 0
	for _, raw := range p {
		if _, err := outreach.NormalizePhone(raw, "US"); err == nil {
			valid++
		}
	}
	// One NANP format in seven has an extension, which NormalizePhone
	// refuses (a text cannot reach an extension); 1% are bad, and some
	// Caribbean exchanges are not in use.
	if valid < 7800 || valid > 8600 {
		t.Errorf("%d of 10000 phones valid; want about 82%%", valid)
	}
}
