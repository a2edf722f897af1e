package csvio_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"time"

	"github.com/patient-outreach/sms/csvio"
	"github.com/patient-outreach/sms/outreach"
)

func ExampleReadAll() {
	file := strings.NewReader(`Patient_ID;Patient_First;Patient_Phone;Clinic
A-1;Maya;(440) 644-3709;Westlake
A-2;Jonah;555-1234;Westlake

A-3;Lena;440.644.3709;Westlake
A-1;Rosa;808-941-2275;Kapiolani
`)
	res, err := csvio.ReadAll(context.Background(), file, csvio.Options{})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range res.Recipients {
		fmt.Println(r.ID, r.FirstName, r.Phone, r.Attrs["clinic"])
	}
	for _, e := range res.Errors {
		fmt.Println("error:", e)
	}
	for _, w := range res.Warnings {
		fmt.Println("warning:", w)
	}
	fmt.Printf("%d rows, %d usable\n", res.Rows, len(res.Recipients))
	// Output:
	// A-1 Maya +14406443709 Westlake
	// A-3 Lena +14406443709 Westlake
	// error: line 3, column patient_phone: phone number is too short: check for missing digits or a missing area code
	// error: line 6, column patient_id: duplicate patient_id: line 2 has the same one
	// warning: line 5, column patient_phone: phone number shared with another row: line 2 has the same number; their conversations will run one after the other
	// 4 rows, 2 usable
}

func ExampleReadAll_stopOnError() {
	file := strings.NewReader("patient_id,patient_first_name,patient_phone\nA-1,Maya,\n")
	_, err := csvio.ReadAll(context.Background(), file, csvio.Options{StopOnError: true})
	fmt.Println(err)
	fmt.Println(errors.Is(err, csvio.ErrMissingPhone))
	// Output:
	// line 2, column patient_phone: patient_phone is empty
	// true
}

// A campaign that may only write to patients who agreed: rows without
// consent are reported and skipped.
func ExampleReadAll_requireConsent() {
	file := strings.NewReader(`patient_id,patient_first_name,patient_phone,consent
A-1,Maya,(440) 644-3709,Yes
A-2,Jonah,(208) 555-0187,no
A-3,Lena,(602) 555-0113,
`)
	res, err := csvio.ReadAll(context.Background(), file, csvio.Options{RequireConsent: true})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range res.Recipients {
		fmt.Println(r.ID, r.Phone)
	}
	for _, e := range res.Errors {
		fmt.Println("skipped:", e)
	}

	_, err = csvio.ReadAll(context.Background(), strings.NewReader("patient_id,patient_first_name,patient_phone\n"), csvio.Options{RequireConsent: true})
	fmt.Println(err)
	// Output:
	// A-1 +14406443709
	// skipped: line 3, column consent: no consent recorded (consent must be yes, true or 1)
	// skipped: line 4, column consent: no consent recorded (consent must be yes, true or 1)
	// csvio: header: missing required column consent (this campaign requires consent: add a consent column saying yes, true or 1 for each patient)
}

func ExampleNewRecipientReader() {
	file := strings.NewReader("patient_id,patient_first_name,patient_phone,timezone\n" +
		"A-1,Maya,440-644-3709,America/New_York\n" +
		"A-2,Keanu,+1 808 536 4410,Pacific/Honolulu\n" +
		"A-3,Wes,1-800-FLOWERS,\n")
	rr, err := csvio.NewRecipientReader(file, csvio.Options{})
	if err != nil {
		log.Fatal(err) // a *csvio.HeaderError names the missing columns
	}
	for {
		row, err := rr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err) // a *csvio.LimitError, or a read error
		}
		if !row.OK() {
			fmt.Println(row.Errors[0])
			continue
		}
		fmt.Println(row.Line, row.Recipient.ID, outreach.MaskPhone(row.Recipient.Phone), row.Recipient.TimeZone)
	}
	// Output:
	// 2 A-1 ***3709 America/New_York
	// 3 A-2 ***4410 Pacific/Honolulu
	// line 4, column patient_phone: phone number contains letters: write the number in digits only, without names, notes or extensions
}

func ExampleNewRecipientReader_header() {
	_, err := csvio.NewRecipientReader(strings.NewReader("id,name,phone\n"), csvio.Options{})
	fmt.Println(err)
	// Output:
	// csvio: header: missing required columns patient_id, patient_first_name, patient_phone (the first line must be a header naming them)
}

func ExampleResponseWriter() {
	var buf bytes.Buffer
	w := csvio.NewResponseWriter(&buf)
	w.Write(csvio.ResponseRow{
		PatientID: "A-1", FirstName: "Maya", Phone: "+14406443709",
		QuestionID: "pain", Answer: "3", Raw: "3 I think",
		RepliedAt: time.Date(2026, 3, 1, 14, 5, 0, 0, time.UTC), Outcome: "completed",
	})
	w.Write(csvio.ResponseRow{
		PatientID: "A-2", FirstName: "Jonah", Phone: "+14408921177",
		QuestionID: "pain", Raw: "=HYPERLINK(\"http://evil.example\")", Outcome: "no_answer",
	})
	if err := w.Flush(); err != nil {
		log.Fatal(err)
	}
	// The file starts with a UTF-8 byte order mark, for Excel.
	os.Stdout.Write(bytes.TrimPrefix(buf.Bytes(), []byte("\ufeff")))
	// Output:
	// patient_id,patient_first_name,patient_phone,question_id,answer,raw_reply,replied_at,outcome,review,alert
	// A-1,Maya,'+14406443709,pain,3,3 I think,2026-03-01T14:05:00Z,completed,,
	// A-2,Jonah,'+14408921177,pain,,"'=HYPERLINK(""http://evil.example"")",,no_answer,,
}

func ExampleNeutralize() {
	for _, cell := range []string{"yes", "=1+1", "+14406443709", "-3", "@A1"} {
		fmt.Println(csvio.Neutralize(cell))
	}
	// Output:
	// yes
	// '=1+1
	// '+14406443709
	// '-3
	// '@A1
}
