package csvio

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/patient-outreach/sms/outreach"
)

// problem is an expected row error or warning: its column and the
// sentinels it matches.
type problem struct {
	col  string
	errs []error
}

func p(col string, errs ...error) problem { return problem{col, errs} }

// want is an expected row.
type want struct {
	line  int
	rcpt  outreach.Recipient // checked when errs is empty
	errs  []problem
	warns []problem
}

// readRows reads every row of in, and the error that ended the reading
// (nil at io.EOF).
func readRows(t *testing.T, in string, opts Options) ([]Row, error) {
	t.Helper()
	rr, err := NewRecipientReader(strings.NewReader(in), opts)
	if err != nil {
		return nil, err
	}
	var rows []Row
	for {
		row, err := rr.Next()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return rows, err
		}
		rows = append(rows, row)
	}
}

func checkProblems(t *testing.T, kind string, line int, got []*RowError, want []problem) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("line %d: %s = %v, want %d", line, kind, got, len(want))
		return
	}
	for i, w := range want {
		g := got[i]
		if g.Line != line || g.Column != w.col {
			t.Errorf("line %d: %s[%d] = %+v (%v), want column %q", line, kind, i, *g, g, w.col)
		}
		for _, err := range w.errs {
			if !errors.Is(g, err) {
				t.Errorf("line %d: %s[%d] = %v, does not match %v", line, kind, i, g, err)
			}
		}
	}
}

func rcpt(id, name, phone string) outreach.Recipient {
	return outreach.Recipient{ID: id, FirstName: name, Phone: phone}
}

// consenting returns a recipient whose file has a consent column.
func consenting(id, name, phone, consent string) outreach.Recipient {
	r := rcpt(id, name, phone)
	r.Attrs = map[string]string{ColumnConsent: consent}
	return r
}

const header = "patient_id,patient_first_name,patient_phone\n"

func TestRecipientReader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		opts Options
		want []want
	}{
		{
			name: "plain",
			in:   header + "A1,Maya,(440) 644-3709\nA2, Jonah ,440.892.1177\n",
			want: []want{
				{line: 2, rcpt: rcpt("A1", "Maya", "+14406443709")},
				{line: 3, rcpt: rcpt("A2", "Jonah", "+14408921177")},
			},
		},
		{
			name: "BOM and CRLF",
			in:   "\ufeff" + strings.ReplaceAll(header, "\n", "\r\n") + "A1,Maya,440-644-3709\r\nA2,Jonah,+1 440 892 1177\r\n",
			want: []want{
				{line: 2, rcpt: rcpt("A1", "Maya", "+14406443709")},
				{line: 3, rcpt: rcpt("A2", "Jonah", "+14408921177")},
			},
		},
		{
			name: "semicolons, as Excel saves in many locales",
			in:   "patient_id;patient_first_name;patient_phone;note\r\nA1;Maya;440 644 3709;call before 5, please\r\n",
			want: []want{{line: 2, rcpt: outreach.Recipient{ID: "A1", FirstName: "Maya", Phone: "+14406443709",
				Attrs: map[string]string{"note": "call before 5, please"}}}},
		},
		{
			name: "semicolon given in options",
			in:   "patient_id;patient_first_name;patient_phone\nA1;Maya;4406443709\n",
			opts: Options{Comma: ';'},
			want: []want{{line: 2, rcpt: rcpt("A1", "Maya", "+14406443709")}},
		},
		{
			name: "quoted cells with delimiters, quotes and line breaks keep true line numbers",
			in: header +
				"A1,\"Maya, Jr.\",4406443709\n" +
				"A2,\"Jo\nnah \"\"JJ\"\"\",4408921177\n" +
				"A3, \"Lena\",6022538890\n" +
				"A4,Rosa,8089412275\n",
			want: []want{
				{line: 2, rcpt: rcpt("A1", "Maya, Jr.", "+14406443709")},
				{line: 3, rcpt: rcpt("A2", "Jo\nnah \"JJ\"", "+14408921177")},
				{line: 5, rcpt: rcpt("A3", "Lena", "+16022538890")},
				{line: 6, rcpt: rcpt("A4", "Rosa", "+18089412275")},
			},
		},
		{
			name: "header case, spaces and the patient_first alias",
			in:   " Patient ID ;PATIENT_FIRST; Patient_Phone ;Time Zone\nA1;Maya;4406443709;America/New_York\n",
			want: []want{{line: 2, rcpt: outreach.Recipient{ID: "A1", FirstName: "Maya", Phone: "+14406443709", TimeZone: "America/New_York"}}},
		},
		{
			name: "columns in another order",
			in:   "patient_phone,patient_id,patient_first_name\n4406443709,A1,Maya\n",
			want: []want{{line: 2, rcpt: rcpt("A1", "Maya", "+14406443709")}},
		},
		{
			name: "blank lines and empty rows are skipped",
			in:   "\n\n" + header + "\nA1,Maya,4406443709\n,,\n  ,  , \n\r\nA2,Jonah,4408921177\n\n",
			want: []want{
				{line: 5, rcpt: rcpt("A1", "Maya", "+14406443709")},
				{line: 9, rcpt: rcpt("A2", "Jonah", "+14408921177")},
			},
		},
		{
			name: "last line without a line end",
			in:   header + "A1,Maya,4406443709",
			want: []want{{line: 2, rcpt: rcpt("A1", "Maya", "+14406443709")}},
		},
		{
			name: "empty id",
			in:   header + " ,Maya,4406443709\n",
			want: []want{{line: 2, errs: []problem{p(ColumnID, ErrEmptyID)}}},
		},
		{
			name: "missing and invalid phones",
			in: header +
				"A1,Maya,\n" +
				"A2,Jonah,555-1234\n" +
				"A3,Lena,1-800-FLOWERS\n" +
				"A4,Rosa,4.40644E+09\n" +
				"A5,Wes,440644370912345\n",
			want: []want{
				{line: 2, errs: []problem{p(ColumnPhone, ErrMissingPhone)}},
				{line: 3, errs: []problem{p(ColumnPhone, ErrInvalidPhone, outreach.ErrPhoneTooShort)}},
				{line: 4, errs: []problem{p(ColumnPhone, ErrInvalidPhone, outreach.ErrPhoneLetters)}},
				{line: 5, errs: []problem{p(ColumnPhone, ErrInvalidPhone, outreach.ErrPhoneScientific)}},
				{line: 6, errs: []problem{p(ColumnPhone, ErrInvalidPhone, outreach.ErrPhoneTooLong)}},
			},
		},
		{
			name: "several errors in one row, in column order",
			in:   header + ",Maya,\n",
			want: []want{{line: 2, errs: []problem{p(ColumnID, ErrEmptyID), p(ColumnPhone, ErrMissingPhone)}}},
		},
		{
			name: "duplicate id is an error on the later row",
			in:   header + "A1,Maya,4406443709\nA2,Jonah,4408921177\nA1,Lena,6022538890\n",
			want: []want{
				{line: 2, rcpt: rcpt("A1", "Maya", "+14406443709")},
				{line: 3, rcpt: rcpt("A2", "Jonah", "+14408921177")},
				{line: 4, errs: []problem{p(ColumnID, ErrDuplicateID)}},
			},
		},
		{
			name: "shared phone is a warning",
			in:   header + "A1,Maya,4406443709\nA2,Jonah,(440) 644-3709\nA3,Lena,+14406443709\n",
			want: []want{
				{line: 2, rcpt: rcpt("A1", "Maya", "+14406443709")},
				{line: 3, rcpt: rcpt("A2", "Jonah", "+14406443709"), warns: []problem{p(ColumnPhone, ErrSharedPhone)}},
				{line: 4, rcpt: rcpt("A3", "Lena", "+14406443709"), warns: []problem{p(ColumnPhone, ErrSharedPhone)}},
			},
		},
		{
			name: "empty first name is a warning",
			in:   header + "A1,,4406443709\n",
			want: []want{{line: 2, rcpt: rcpt("A1", "", "+14406443709"), warns: []problem{p(ColumnFirstName, ErrMissingFirstName)}}},
		},
		{
			name: "time zones",
			in: "patient_id,patient_first_name,patient_phone,timezone\n" +
				"A1,Maya,4406443709,Pacific/Honolulu\n" +
				"A2,Jonah,4408921177,Mars/Olympus_Mons\n" +
				"A3,Lena,6022538890,Local\n" +
				"A4,Rosa,8089412275,../../etc/passwd\n" +
				"A5,Wes,6024951732,\n",
			want: []want{
				{line: 2, rcpt: outreach.Recipient{ID: "A1", FirstName: "Maya", Phone: "+14406443709", TimeZone: "Pacific/Honolulu"}},
				{line: 3, errs: []problem{p(ColumnTimeZone, ErrBadTimeZone)}},
				{line: 4, errs: []problem{p(ColumnTimeZone, ErrBadTimeZone)}},
				{line: 5, errs: []problem{p(ColumnTimeZone, ErrBadTimeZone)}},
				{line: 6, rcpt: rcpt("A5", "Wes", "+16024951732")},
			},
		},
		{
			name: "cell too long",
			in: "patient_id,patient_first_name,patient_phone,note\nA1,Maya,4406443709,012345678901234567890\nA2,01234567890123456789a,4408921177,ok\n" +
				"A3,Lena,6022538890,  01234567890123456789  \n",
			opts: Options{MaxFieldLen: 20},
			want: []want{
				{line: 2, errs: []problem{p("note", ErrFieldTooLong)}},
				{line: 3, errs: []problem{p(ColumnFirstName, ErrFieldTooLong)}},
				{line: 4, rcpt: outreach.Recipient{ID: "A3", FirstName: "Lena", Phone: "+16022538890",
					Attrs: map[string]string{"note": "01234567890123456789"}}}, // 20 bytes once trimmed
			},
		},
		{
			name: "not UTF-8",
			in:   header + "A1,Jos\xe9,4406443709\n",
			want: []want{{line: 2, errs: []problem{p(ColumnFirstName, ErrNotUTF8)}}},
		},
		{
			name: "extra columns become attributes",
			in:   "patient_id,patient_first_name,patient_phone, Clinic Name ,Visit\nA1,Maya,4406443709, Westlake ,\n",
			want: []want{{line: 2, rcpt: outreach.Recipient{ID: "A1", FirstName: "Maya", Phone: "+14406443709",
				Attrs: map[string]string{"clinic_name": "Westlake", "visit": ""}}}},
		},
		{
			name: "unnamed columns: empty is ignored, a value is a warning",
			in:   header[:len(header)-1] + ",,\nA1,Maya,4406443709,,\nA2,Jonah,4408921177,,x\n",
			want: []want{
				{line: 2, rcpt: rcpt("A1", "Maya", "+14406443709")},
				{line: 3, rcpt: rcpt("A2", "Jonah", "+14408921177"), warns: []problem{p("", ErrUnnamedColumn)}},
			},
		},
		{
			name: "malformed rows are reported and reading goes on",
			in:   header + "A1,Ma\"ya,4406443709\nA2,Jonah\nA3,\"Lena\"x,6022538890\nA4,Rosa,8089412275,extra\nA5,Wes,6024951732\n",
			want: []want{
				{line: 2, errs: []problem{p("", ErrMalformed, csv.ErrBareQuote)}},
				{line: 3, errs: []problem{p("", ErrMalformed, csv.ErrFieldCount)}},
				{line: 4, errs: []problem{p("", ErrMalformed, csv.ErrQuote)}},
				{line: 5, errs: []problem{p("", ErrMalformed, csv.ErrFieldCount)}},
				{line: 6, rcpt: rcpt("A5", "Wes", "+16024951732")},
			},
		},
		{
			name: "a line of spaces alone has the wrong number of cells",
			in:   header + "   \nA1,Maya,4406443709\n",
			want: []want{
				{line: 2, errs: []problem{p("", ErrMalformed, csv.ErrFieldCount)}},
				{line: 3, rcpt: rcpt("A1", "Maya", "+14406443709")},
			},
		},
		{
			name: "an unclosed quote swallows the rest and says so",
			in:   header + "A1,Maya,4406443709\nA2,\"Jonah,4408921177\nA3,Lena,6022538890\n",
			want: []want{
				{line: 2, rcpt: rcpt("A1", "Maya", "+14406443709")},
				{line: 3, errs: []problem{p("", ErrMalformed, csv.ErrQuote)}},
			},
		},
		{
			name: "consent required: yes, y, true and 1 in any case; anything else is a row error",
			in: "patient_id,patient_first_name,patient_phone, Consent \n" +
				"A1,Maya,4406443709,yes\n" +
				"A2,Jonah,4408921177, TRUE \n" +
				"A3,Lena,6022538890,1\n" +
				"A4,Rosa,8089412275,Y\n" +
				"A5,Wes,6024951732,no\n" +
				"A6,Ana,6024951733,\n" +
				"A7,Ben,6024951734,0\n" +
				"A8,Cy,6024951735,maybe\n" +
				"A9,Di,6024951736,yes please\n" +
				",Ed,,no\n",
			opts: Options{RequireConsent: true},
			want: []want{
				{line: 2, rcpt: consenting("A1", "Maya", "+14406443709", "yes")},
				{line: 3, rcpt: consenting("A2", "Jonah", "+14408921177", "TRUE")},
				{line: 4, rcpt: consenting("A3", "Lena", "+16022538890", "1")},
				{line: 5, rcpt: consenting("A4", "Rosa", "+18089412275", "Y")},
				{line: 6, errs: []problem{p(ColumnConsent, ErrNoConsent)}},
				{line: 7, errs: []problem{p(ColumnConsent, ErrNoConsent)}},
				{line: 8, errs: []problem{p(ColumnConsent, ErrNoConsent)}},
				{line: 9, errs: []problem{p(ColumnConsent, ErrNoConsent)}},
				{line: 10, errs: []problem{p(ColumnConsent, ErrNoConsent)}},
				{line: 11, errs: []problem{p(ColumnID, ErrEmptyID), p(ColumnPhone, ErrMissingPhone), p(ColumnConsent, ErrNoConsent)}},
			},
		},
		{
			name: "consent column not required: an extra column, whatever it says",
			in:   "patient_id,patient_first_name,patient_phone,consent\nA1,Maya,4406443709,no\n",
			want: []want{{line: 2, rcpt: consenting("A1", "Maya", "+14406443709", "no")}},
		},
		{
			name: "consent cell too long is reported once, as too long",
			in:   "patient_id,patient_first_name,patient_phone,consent\nA1,Maya,4406443709," + strings.Repeat("yes", 7) + "\n",
			opts: Options{RequireConsent: true, MaxFieldLen: 18},
			want: []want{{line: 2, errs: []problem{p(ColumnConsent, ErrFieldTooLong)}}},
		},
		{
			name: "header only",
			in:   header,
		},
		{
			name: "default region",
			in:   header + "A1,Amelia,020 7946 0958\n",
			opts: Options{DefaultRegion: "gb"},
			want: []want{{line: 2, rcpt: rcpt("A1", "Amelia", "+442079460958")}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := readRows(t, tt.in, tt.opts)
			if err != nil {
				t.Fatalf("error %v", err)
			}
			if len(rows) != len(tt.want) {
				t.Fatalf("got %d rows, want %d: %+v", len(rows), len(tt.want), rows)
			}
			for i, w := range tt.want {
				got := rows[i]
				if got.Line != w.line {
					t.Errorf("row %d: line %d, want %d", i, got.Line, w.line)
				}
				checkProblems(t, "errors", w.line, got.Errors, w.errs)
				checkProblems(t, "warnings", w.line, got.Warnings, w.warns)
				if got.OK() != (len(w.errs) == 0) {
					t.Errorf("line %d: OK() = %v", w.line, got.OK())
				}
				if len(w.errs) == 0 && !reflect.DeepEqual(got.Recipient, w.rcpt) {
					t.Errorf("line %d: recipient %+v, want %+v", w.line, got.Recipient, w.rcpt)
				}
			}
		})
	}
}

// TestRowErrorMessages checks that messages name the line and column and
// say why, and hold no value from the file.
func TestRowErrorMessages(t *testing.T) {
	in := "patient_id,patient_first_name,patient_phone,timezone\n" +
		"MRN-778812,Zelda,555-1234,\n" +
		"MRN-778812,Bartholomew,4406443709,Mars/Olympus\n" +
		"MRN-990017,Quentin,4406443709,\n" +
		"MRN-990018,Ysolde\"x,4406443709,\n" +
		"MRN-990019,Ursula,440-644-3709,\n"
	rows, err := readRows(t, in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, row := range rows {
		for _, e := range append(row.Errors, row.Warnings...) {
			msgs = append(msgs, e.Error())
		}
	}
	wantMsgs := []string{
		"line 2, column patient_phone: phone number is too short: check for missing digits or a missing area code",
		"line 3, column patient_id: duplicate patient_id: line 2 has the same one",
		"line 3, column timezone: unknown time zone: write an IANA name such as America/Phoenix, or leave it empty",
		"line 5: malformed CSV: bare \" in non-quoted-field at byte 18",
		"line 6, column patient_phone: phone number shared with another row: line 4 has the same number; their conversations will run one after the other",
	}
	if !reflect.DeepEqual(msgs, wantMsgs) {
		t.Errorf("messages:\n%s\nwant:\n%s", strings.Join(msgs, "\n"), strings.Join(wantMsgs, "\n"))
	}
	for _, m := range msgs {
		for _, secret := range []string{"778812", "9900", "Zelda", "Bartholomew", "Quentin", "Ysolde", "Ursula", "555", "644", "Olympus"} {
			if strings.Contains(m, secret) {
				t.Errorf("message %q holds a value from the file (%q)", m, secret)
			}
		}
	}
}

func TestHeaderErrors(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		err     error
		columns []string
	}{
		{"empty file", "", ErrNoHeader, nil},
		{"blank lines only", "\n\r\n\n", ErrNoHeader, nil},
		{"BOM only", "\ufeff", ErrNoHeader, nil},
		{"missing phone column", "patient_id,patient_first_name,phone\n", ErrMissingColumn, []string{ColumnPhone}},
		{"no header at all", "A1,Maya,4406443709\n", ErrMissingColumn, []string{ColumnID, ColumnFirstName, ColumnPhone}},
		{"duplicate column", "patient_id,patient_first_name,patient_phone,Patient_Phone,patient_phone\n", ErrDuplicateColumn, []string{ColumnPhone}},
		{"header cell too long", header[:len(header)-1] + "," + strings.Repeat("x", 1001) + "\n", ErrFieldTooLong, nil},
		{"alias and name both present", "patient_id,patient_first,patient_first_name,patient_phone\n", ErrDuplicateColumn, []string{ColumnFirstName}},
		{"UTF-16", "\xff\xfep\x00a\x00", ErrUTF16, nil},
		{"malformed header", "patient_id,\"patient_first_name\"x,patient_phone\n", csv.ErrQuote, nil},
		{"header not UTF-8", "patient_id,patient_first_name,patient_phone,cl\xednica\n", ErrNotUTF8, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewRecipientReader(strings.NewReader(tt.in), Options{})
			var he *HeaderError
			if !errors.As(err, &he) || !errors.Is(err, tt.err) {
				t.Fatalf("error %v, want a *HeaderError matching %v", err, tt.err)
			}
			if !reflect.DeepEqual(he.Columns, tt.columns) {
				t.Errorf("columns %q, want %q", he.Columns, tt.columns)
			}
			for _, c := range tt.columns {
				if !strings.Contains(err.Error(), c) {
					t.Errorf("%q does not name %s", err, c)
				}
			}
		})
	}
}

func TestBadOptions(t *testing.T) {
	for _, opts := range []Options{{DefaultRegion: "USA"}, {DefaultRegion: "1"}, {Comma: '"'}, {Comma: '\n'}} {
		if _, err := NewRecipientReader(strings.NewReader(header), opts); err == nil {
			t.Errorf("%+v: no error", opts)
		}
	}
}

func TestLimits(t *testing.T) {
	rows := header + "A1,Maya,4406443709\n\nA2,Jonah,4408921177\nA3,Lena,6022538890\n"
	tests := []struct {
		name  string
		in    string
		opts  Options
		rows  int // rows returned before the limit
		limit Limit
		line  int
	}{
		{"row limit", rows, Options{MaxRows: 2}, 2, LimitRows, 5},
		{"row limit counts malformed rows", header + "A1,\"x\"y,1\nA2,Jonah,4408921177\n", Options{MaxRows: 1}, 1, LimitRows, 3},
		{"rows at the limit", rows, Options{MaxRows: 3}, 3, "", 0},
		{"no row limit", rows, Options{MaxRows: -1}, 3, "", 0},
		{"size limit", rows, Options{MaxBytes: int64(len(header)) + 25}, 0, LimitBytes, 0},
		{"size limit in the header", rows, Options{MaxBytes: 10}, 0, LimitBytes, 0},
		{"size at the limit", rows, Options{MaxBytes: int64(len(rows))}, 3, "", 0},
		{"one byte over", rows + "\n", Options{MaxBytes: int64(len(rows))}, 0, LimitBytes, 0},
		{"too many columns", "patient_id,patient_first_name,patient_phone,a,b\nA1,Maya,4406443709,,\n", Options{MaxColumns: 4}, 0, LimitColumns, 1},
		{"columns at the limit", "patient_id,patient_first_name,patient_phone,a\nA1,Maya,4406443709,\n", Options{MaxColumns: 4}, 1, "", 0},
		{"header line too long", "\n" + header[:len(header)-1] + ",note\n", Options{MaxLineLen: len(header)}, 0, LimitLineBytes, 2},
		{"row line too long", rows + "A4,Rosa,8089412275," + strings.Repeat("x", 40) + "\n", Options{MaxLineLen: len(header)}, 3, LimitLineBytes, 6},
		{"line at the limit", header + "A1,Maya,4406443709" + strings.Repeat(" ", len(header)-19) + "\n", Options{MaxLineLen: len(header)}, 1, "", 0},
		{"no line limit", header + "A1,Maya,4406443709" + strings.Repeat(" ", 70<<10) + "\n", Options{MaxLineLen: -1}, 1, "", 0},
		{"line past the read-ahead", bigFile(300) + "A4,Rosa,8089412275," + strings.Repeat("x", 70<<10) + "\n", Options{MaxFieldLen: -1}, 300, LimitLineBytes, 302},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readRows(t, tt.in, tt.opts)
			if len(got) != tt.rows {
				t.Errorf("%d rows before the limit, want %d", len(got), tt.rows)
			}
			if tt.limit == "" {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				return
			}
			var le *LimitError
			if !errors.As(err, &le) {
				t.Fatalf("error %v, want a *LimitError", err)
			}
			if le.Limit != tt.limit || le.Line != tt.line {
				t.Errorf("got %+v, want limit %s at line %d", *le, tt.limit, tt.line)
			}
		})
	}
}

func TestNextAfterErrorRepeatsIt(t *testing.T) {
	rr, err := NewRecipientReader(strings.NewReader(header+"A1,Maya,4406443709\nA2,Jonah,4408921177\n"), Options{MaxRows: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rr.Next(); err != nil {
		t.Fatal(err)
	}
	_, err1 := rr.Next()
	_, err2 := rr.Next()
	if err1 == nil || err1 != err2 {
		t.Errorf("errors %v then %v, want the same limit error twice", err1, err2)
	}
}

// failingReader returns its data, then err.
type failingReader struct {
	data string
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.data == "" {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

// bigFile returns a header and n valid rows of about 250 bytes.
func bigFile(n int) string {
	var b strings.Builder
	b.WriteString("patient_id,patient_first_name,patient_phone,note\n")
	note := strings.Repeat("x", 200)
	for i := range n {
		fmt.Fprintf(&b, "P%d,Name%d,+1 440 %03d %04d,%s\n", i, i, 200+i/10000%800, i%10000, note)
	}
	return b.String()
}

// TestLimitsStreaming checks that a reader stops with the error of a large
// file after returning the rows it could read.
func TestLimitsStreaming(t *testing.T) {
	const n = 500 // over 64 KiB, the read-ahead
	in := bigFile(n)
	boom := errors.New("connection reset")
	tests := []struct {
		name string
		r    io.Reader
		opts Options
		all  bool // whether every row comes before the error
		err  func(error) bool
	}{
		{"read error at the end", &failingReader{data: in, err: boom}, Options{}, true, func(err error) bool { return errors.Is(err, boom) }},
		{"size limit", strings.NewReader(in), Options{MaxBytes: int64(len(in)) - 1}, false, func(err error) bool {
			var le *LimitError
			return errors.As(err, &le) && le.Limit == LimitBytes
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rr, err := NewRecipientReader(tt.r, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			rows := 0
			for {
				row, err := rr.Next()
				if err != nil {
					if !tt.err(err) {
						t.Fatalf("error %v", err)
					}
					break
				}
				if !row.OK() || row.Line != rows+2 {
					t.Fatalf("row %+v", row)
				}
				rows++
			}
			if tt.all && rows != n || !tt.all && (rows == 0 || rows == n) {
				t.Errorf("%d rows before the error", rows)
			}
		})
	}
}

func TestReadAll(t *testing.T) {
	in := header + "A1,Maya,4406443709\nA2,Jonah,\nA3,Lena,4406443709\nA4,Rosa,555\nA5,Wes,6024951732\n"

	res, err := ReadAll(context.Background(), strings.NewReader(in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range res.Recipients {
		ids = append(ids, r.ID)
	}
	if !reflect.DeepEqual(ids, []string{"A1", "A3", "A5"}) || res.Rows != 5 || res.BadRows != 2 ||
		len(res.Errors) != 2 || len(res.Warnings) != 1 {
		t.Errorf("got %v, %+v", ids, res)
	}
	if res.Rows != len(res.Recipients)+res.BadRows {
		t.Errorf("rows %d != %d recipients + %d bad rows", res.Rows, len(res.Recipients), res.BadRows)
	}

	res, err = ReadAll(context.Background(), strings.NewReader(in), Options{StopOnError: true})
	var re *RowError
	if !errors.As(err, &re) || re.Line != 3 || !errors.Is(err, ErrMissingPhone) {
		t.Fatalf("StopOnError: error %v, want line 3's", err)
	}
	if len(res.Recipients) != 1 || res.Rows != 2 {
		t.Errorf("StopOnError: %+v", res)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ReadAll(ctx, strings.NewReader(in), Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: error %v", err)
	}

	if _, err := ReadAll(context.Background(), strings.NewReader("id,name\n"), Options{}); !errors.Is(err, ErrMissingColumn) {
		t.Errorf("bad header: error %v", err)
	}
}

func TestSampleFile(t *testing.T) {
	f, err := os.Open("testdata/sample.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := ReadAll(context.Background(), f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Recipients) != 10 || len(res.Errors) != 0 || len(res.Warnings) != 0 {
		t.Fatalf("got %d recipients, errors %v, warnings %v", len(res.Recipients), res.Errors, res.Warnings)
	}
	zones := map[string]bool{}
	for _, r := range res.Recipients {
		for _, z := range outreach.PhoneZones(r.Phone) {
			zones[z] = true
		}
		if r.Attrs["clinic"] == "" {
			t.Errorf("%s: no clinic", r.ID)
		}
	}
	for _, z := range []string{"America/New_York", "America/Phoenix", "Pacific/Honolulu"} {
		if !zones[z] {
			t.Errorf("no recipient in %s (zones %v)", z, zones)
		}
	}
}

func TestConsentColumnRequired(t *testing.T) {
	_, err := NewRecipientReader(strings.NewReader(header+"A1,Maya,4406443709\n"), Options{RequireConsent: true})
	var he *HeaderError
	if !errors.As(err, &he) || !errors.Is(err, ErrMissingColumn) || !reflect.DeepEqual(he.Columns, []string{ColumnConsent}) {
		t.Fatalf("error %v, want a *HeaderError for the missing consent column", err)
	}
	want := "csvio: header: missing required column consent (this campaign requires consent: add a consent column saying yes, true or 1 for each patient)"
	if err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	// The usual columns are still checked first.
	_, err = NewRecipientReader(strings.NewReader("patient_id,patient_first_name\n"), Options{RequireConsent: true})
	if !errors.As(err, &he) || !reflect.DeepEqual(he.Columns, []string{ColumnPhone}) {
		t.Errorf("error %v, want patient_phone missing", err)
	}
}

// TestConsentSkippedRows checks that ReadAll reports every row without
// consent, by line and column, and never makes it a recipient.
func TestConsentSkippedRows(t *testing.T) {
	in := "patient_id,patient_first_name,patient_phone,consent\n" +
		"A1,Maya,4406443709,yes\n" +
		"A2,Jonah,4408921177,no\n" +
		"A3,Lena,4408921177,\n" +
		"A4,Rosa,4408921177,1\n"
	res, err := ReadAll(context.Background(), strings.NewReader(in), Options{RequireConsent: true})
	if err != nil {
		t.Fatal(err)
	}
	var ids, msgs []string
	for _, r := range res.Recipients {
		ids = append(ids, r.ID)
	}
	for _, e := range res.Errors {
		msgs = append(msgs, e.Error())
	}
	if !reflect.DeepEqual(ids, []string{"A1", "A4"}) || res.Rows != 4 || res.BadRows != 2 {
		t.Errorf("recipients %v, rows %d, bad rows %d; want A1 and A4 of 4 rows, 2 bad", ids, res.Rows, res.BadRows)
	}
	wantMsgs := []string{
		"line 3, column consent: no consent recorded (consent must be yes, true or 1)",
		"line 4, column consent: no consent recorded (consent must be yes, true or 1)",
	}
	if !reflect.DeepEqual(msgs, wantMsgs) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(msgs, "\n"), strings.Join(wantMsgs, "\n"))
	}
	// A skipped row does not claim its phone: A4 shares A2's and A3's
	// number but is the first usable row with it.
	if len(res.Warnings) != 0 {
		t.Errorf("warnings %v, want none", res.Warnings)
	}
}

// heapGrowth returns how many bytes were allocated while f ran (an upper
// bound on how much the heap grew).
func heapGrowth(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestMillionColumnLineRefused checks that a one-line file of a million
// columns is refused while its line is read, allocating little. Without
// the caps (MaxLineLen and MaxColumns negative) encoding/csv and gocsv
// hold the whole line and every cell: a million "patient_id" cells
// allocated about 550 MB.
func TestMillionColumnLineRefused(t *testing.T) {
	for _, cell := range []string{"a", "patient_id"} {
		in := strings.Repeat(cell+",", 1_000_000) + "\n"
		var err error
		grew := heapGrowth(func() {
			_, err = NewRecipientReader(strings.NewReader(in), Options{})
		})
		var le *LimitError
		if !errors.As(err, &le) || le.Limit != LimitLineBytes || le.Line != 1 || le.Max != DefaultMaxLineLen {
			t.Fatalf("%s: error %v, want a *LimitError for line 1's length", cell, err)
		}
		t.Logf("%s: allocated %d KiB in all before refusing a %d-byte line", cell, grew>>10, len(in))
		if grew > 8<<20 {
			t.Errorf("%s: allocated %d KiB before refusing the line; want under 8 MiB", cell, grew>>10)
		}
	}
}
