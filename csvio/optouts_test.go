package csvio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// lineProblem is an expected row error and its line.
type lineProblem struct {
	line int
	problem
}

// t0 is the opt-out tests' fixed "now".
var t0 = time.Date(2026, 3, 2, 17, 0, 0, 0, time.UTC)

func TestReadOptOuts(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []OptOut
		errs []lineProblem // in order
		rows int
	}{
		{
			name: "phone only: every row opts out",
			in:   "phone\n(440) 644-3709\n+1 808 941 2275\n\n",
			want: []OptOut{{Line: 2, Phone: "+14406443709", OptedOut: true}, {Line: 3, Phone: "+18089412275", OptedOut: true}},
			rows: 2,
		},
		{
			name: "our own export reads back",
			in:   "\ufeffphone,opted_out,changed_at\n'+14406443709,true,2026-03-02T17:00:00Z\n'+18089412275,false,2026-03-01T09:30:00-05:00\n",
			want: []OptOut{
				{Line: 2, Phone: "+14406443709", OptedOut: true, At: t0},
				{Line: 3, Phone: "+18089412275", OptedOut: false, At: time.Date(2026, 3, 1, 14, 30, 0, 0, time.UTC)},
			},
			rows: 2,
		},
		{
			name: "CRM file: patient_phone, other columns, ';', yes/no/1/0 in any case, empty opted_out",
			in:   "Name;Patient Phone;Opted_Out;Changed At\r\nMaya;440.644.3709;YES;\r\nJonah;808-941-2275;0;2026-03-02 17:00:00Z\r\nLena;4406443701;;\r\nRosa;4406443702;No;2026-03-02T17:00:00.5Z\r\n",
			want: []OptOut{
				{Line: 2, Phone: "+14406443709", OptedOut: true},
				{Line: 3, Phone: "+18089412275", OptedOut: false, At: t0},
				{Line: 4, Phone: "+14406443701", OptedOut: true},
				{Line: 5, Phone: "+14406443702", OptedOut: false, At: t0.Add(500 * time.Millisecond)},
			},
			rows: 4,
		},
		{
			name: "bad rows are reported by line, never dropped",
			in: "phone,opted_out,changed_at\n" +
				",yes,\n" + // 2: no phone
				"555-1234,yes,\n" + // 3: too short
				"4406443709,maybe,\n" + // 4
				"4406443709,yes,yesterday\n" + // 5
				"4406443709,no,\n" + // 6: opt-in without a time
				"4406443709,\"yes\n" + // 7-8: unclosed quote runs to the end
				"\n",
			errs: []lineProblem{
				{2, p(ColumnOptOutPhone, ErrMissingPhone)},
				{3, p(ColumnOptOutPhone, ErrInvalidPhone, outreach.ErrPhoneTooShort)},
				{4, p(ColumnOptedOut, ErrBadOptedOut)},
				{5, p(ColumnChangedAt, ErrBadChangedAt)},
				{6, p(ColumnChangedAt, ErrOptInNeedsTime)},
				{7, p("", ErrMalformed)},
			},
			rows: 6,
		},
		{
			name: "wrong number of cells",
			in:   "phone,opted_out\n4406443709\n4406443701,yes\n",
			want: []OptOut{{Line: 3, Phone: "+14406443701", OptedOut: true}},
			errs: []lineProblem{{2, p("", ErrMalformed)}},
			rows: 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadOptOuts(strings.NewReader(tc.in), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got.OptOuts) != fmt.Sprint(tc.want) {
				t.Errorf("opt-outs:\n got %+v\nwant %+v", got.OptOuts, tc.want)
			}
			if len(got.Errors) != len(tc.errs) {
				t.Fatalf("errors %v, want %d", got.Errors, len(tc.errs))
			}
			for i, w := range tc.errs {
				checkProblems(t, "error", w.line, got.Errors[i:i+1], []problem{w.problem})
			}
			if got.Rows != tc.rows || got.BadRows+len(got.OptOuts) != got.Rows {
				t.Errorf("rows %d (bad %d, usable %d), want %d, each usable or bad", got.Rows, got.BadRows, len(got.OptOuts), tc.rows)
			}
			for _, e := range got.Errors {
				if strings.Contains(e.Error(), "644") || strings.Contains(e.Error(), "555") {
					t.Errorf("error %q holds a phone number", e)
				}
			}
		})
	}
}

func TestReadOptOutsLines(t *testing.T) {
	got, err := ReadOptOuts(strings.NewReader("phone\n\n4406443709\n555\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.OptOuts) != 1 || got.OptOuts[0].Line != 3 || len(got.Errors) != 1 || got.Errors[0].Line != 4 {
		t.Fatalf("got %+v, errors %v; want line 3 usable and line 4 refused", got.OptOuts, got.Errors)
	}
	if msg := got.Errors[0].Error(); !strings.HasPrefix(msg, "line 4, column phone: ") {
		t.Errorf("error %q, want it to name line 4 and column phone", msg)
	}
}

func TestReadOptOutsHeaderAndLimits(t *testing.T) {
	tests := []struct {
		name string
		in   string
		opts Options
		want error
	}{
		{"empty", "", Options{}, ErrNoHeader},
		{"no phone column", "patient_id,opted_out\nA1,yes\n", Options{}, ErrMissingColumn},
		{"phone twice", "phone,patient_phone\n1,2\n", Options{}, ErrDuplicateColumn},
		{"UTF-16", "\xff\xfep\x00", Options{}, ErrUTF16},
		{"too many rows", "phone\n4406443709\n4406443701\n4406443702\n", Options{MaxRows: 2}, &LimitError{}},
		{"too large", "phone\n" + strings.Repeat("4406443709\n", 100), Options{MaxBytes: 100}, &LimitError{}},
		{"stop on error", "phone\n4406443709\n555\n4406443701\n", Options{StopOnError: true}, ErrInvalidPhone},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadOptOuts(strings.NewReader(tc.in), tc.opts)
			if le, ok := tc.want.(*LimitError); ok {
				if !errors.As(err, &le) {
					t.Fatalf("err %v, want a *LimitError", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
}

// recorder is an OptOutSource and OptOutSetter that keeps the latest change
// of each phone, as a Store does.
type recorder struct {
	calls []string
	recs  map[string]outreach.OptOutRecord
}

func (r *recorder) SetOptOut(ctx context.Context, world, phone string, out bool, at time.Time) error {
	r.calls = append(r.calls, fmt.Sprintf("%s %v %s", phone, out, at.Format(time.RFC3339)))
	if r.recs == nil {
		r.recs = map[string]outreach.OptOutRecord{}
	}
	if old, ok := r.recs[phone]; !ok || !at.Before(old.At) {
		r.recs[phone] = outreach.OptOutRecord{Phone: phone, OptedOut: out, At: at}
	}
	return nil
}

func TestImportOptOuts(t *testing.T) {
	list := []OptOut{
		{Line: 2, Phone: "+14406443709", OptedOut: true},                              // at t0
		{Line: 3, Phone: "+14406443701", OptedOut: false, At: t0.Add(-time.Hour)},     // its own time
		{Line: 4, Phone: "+14406443702", OptedOut: true, At: t0.Add(time.Minute)},     // a little ahead: t0
		{Line: 5, Phone: "+14406443703", OptedOut: false, At: t0.Add(24 * time.Hour)}, // far ahead: refused
		{Line: 6, Phone: "+14406443704", OptedOut: false},                             // opt-in without a time: refused
		{Line: 7, Phone: "+14406443701", OptedOut: true, At: t0.Add(-2 * time.Hour)},  // older than line 3: kept out
	}
	r := &recorder{}
	n, refused, err := ImportOptOuts(context.Background(), r, "", list, t0)
	if err != nil {
		t.Fatal(err)
	}
	wantCalls := []string{
		"+14406443709 true 2026-03-02T17:00:00Z",
		"+14406443701 false 2026-03-02T16:00:00Z",
		"+14406443702 true 2026-03-02T17:00:00Z",
		"+14406443701 true 2026-03-02T15:00:00Z",
	}
	if n != 4 || fmt.Sprint(r.calls) != fmt.Sprint(wantCalls) {
		t.Errorf("recorded %d: %q, want 4: %q", n, r.calls, wantCalls)
	}
	if len(refused) != 2 || refused[0].Line != 5 || !errors.Is(refused[0], ErrFutureChange) || refused[1].Line != 6 || !errors.Is(refused[1], ErrOptInNeedsTime) {
		t.Errorf("refused %v, want line 5 (future) and line 6 (no time)", refused)
	}
	if r.recs["+14406443701"].OptedOut {
		t.Error("an older CRM opt-out overrode a newer opt-in")
	}
	if _, _, err := ImportOptOuts(context.Background(), r, "", list, time.Time{}); err == nil {
		t.Error("ImportOptOuts with a zero time succeeded")
	}
}

// pager serves recs in pages, as a Store's OptOuts does.
type pager []outreach.OptOutRecord

func (p pager) OptOuts(ctx context.Context, after string, limit int) ([]outreach.OptOutRecord, error) {
	var out []outreach.OptOutRecord
	for _, r := range p {
		if r.Phone > after && (limit <= 0 || len(out) < limit) {
			out = append(out, r)
		}
	}
	return out, nil
}

func TestExportOptOuts(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := ExportOptOuts(context.Background(), &buf, pager{
		{Phone: "+14406443701", OptedOut: false, At: t0.In(ny)},
		{Phone: "+14406443709", OptedOut: true, At: t0.Add(time.Second)},
		{Phone: "=1+2", OptedOut: true, At: t0}, // never stored, but never a formula either
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "\ufeffphone,opted_out,changed_at\n" +
		"'+14406443701,false,2026-03-02T17:00:00Z\n" +
		"'+14406443709,true,2026-03-02T17:00:01Z\n" +
		"'=1+2,true,2026-03-02T17:00:00Z\n"
	if n != 3 || buf.String() != want {
		t.Errorf("wrote %d rows:\n%s\nwant 3:\n%s", n, buf.String(), want)
	}
}

// TestExportOptOutsPages: more opt-outs than a page come out once each,
// in order, and read back as they were.
func TestExportOptOutsPages(t *testing.T) {
	var recs pager
	for i := range exportOptOutPage*2 + 3 {
		recs = append(recs, outreach.OptOutRecord{Phone: fmt.Sprintf("+1440644%04d", i), OptedOut: i%3 != 0, At: t0.Add(time.Duration(i) * time.Second)})
	}
	var buf bytes.Buffer
	n, err := ExportOptOuts(context.Background(), &buf, recs)
	if err != nil || n != len(recs) {
		t.Fatalf("ExportOptOuts = %d, %v; want %d", n, err, len(recs))
	}
	got, err := ReadOptOuts(&buf, Options{})
	if err != nil || len(got.Errors) != 0 || len(got.OptOuts) != len(recs) {
		t.Fatalf("read back %d opt-outs, errors %v, %v; want %d", len(got.OptOuts), got.Errors, err, len(recs))
	}
	for i, o := range got.OptOuts {
		if r := recs[i]; o.Phone != r.Phone || o.OptedOut != r.OptedOut || !o.At.Equal(r.At) {
			t.Fatalf("row %d read back as %+v, want %+v", i, o, r)
		}
	}
}

// FuzzReadOptOuts checks that any input gives a file or a typed error, and
// that every row read is either usable (an E.164 phone; a time on every
// opt-in) or refused with errors naming its line.
func FuzzReadOptOuts(f *testing.F) {
	for _, s := range []string{
		"phone\n4406443709\n",
		"\ufeffphone,opted_out,changed_at\n'+14406443709,true,2026-03-02T17:00:00Z\n'+18089412275,false,\n",
		"Name;Patient Phone;Opted_Out\r\nMaya;440.644.3709;YES\r\n;;\r\nx;\"5;\n\"\"5\";maybe\r\n",
		"phone,phone\n1,2\n",
		"",
		"\xff\xfe",
		"phone,opted_out\n4406443709\n\"\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		res, err := ReadOptOuts(strings.NewReader(in), Options{MaxBytes: 1 << 12, MaxRows: 50, MaxFieldLen: 64})
		if err != nil {
			var he *HeaderError
			var le *LimitError
			if !errors.As(err, &he) && !errors.As(err, &le) {
				t.Fatalf("ReadOptOuts: untyped error %v", err)
			}
			return
		}
		if res.Rows != len(res.OptOuts)+res.BadRows || res.BadRows > len(res.Errors) {
			t.Fatalf("%d rows, %d usable, %d bad with %d errors", res.Rows, len(res.OptOuts), res.BadRows, len(res.Errors))
		}
		last := 0
		for _, o := range res.OptOuts {
			if o.Line <= last {
				t.Fatalf("line %d after line %d", o.Line, last)
			}
			last = o.Line
			if p, err := outreach.NormalizePhone(o.Phone, ""); err != nil || p != o.Phone {
				t.Fatalf("line %d: phone %q is not E.164 (%v)", o.Line, o.Phone, err)
			}
			if !o.OptedOut && o.At.IsZero() {
				t.Fatalf("line %d: an opt-in without a time", o.Line)
			}
			if !o.At.IsZero() && o.At.Location() != time.UTC {
				t.Fatalf("line %d: time %v not in UTC", o.Line, o.At)
			}
		}
		for _, e := range res.Errors {
			if e.Line <= 0 || !matchesOne(e) && !errors.Is(e, ErrBadOptedOut) && !errors.Is(e, ErrBadChangedAt) && !errors.Is(e, ErrOptInNeedsTime) {
				t.Fatalf("row error %v (line %d) matches no reason", e, e.Line)
			}
		}
	})
}

// TestSampleOptOutsFile: the sample the README's tour imports reads
// without errors.
func TestSampleOptOutsFile(t *testing.T) {
	f, err := os.Open("testdata/optouts.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := ReadOptOuts(f, Options{})
	if err != nil || len(got.Errors) != 0 || len(got.OptOuts) != 3 {
		t.Fatalf("ReadOptOuts = %+v, %v; want 3 opt-outs and no error", got, err)
	}
}

// TestReadOptOutsLimits: an opt-outs file has the recipients file's caps
// on a line's length and the header's cells, enforced as it is read.
func TestReadOptOutsLimits(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		limit Limit
	}{
		{"a million-cell line", strings.Repeat("phone,", 1_000_000) + "\n", LimitLineBytes},
		{"a header of 201 cells", "phone" + strings.Repeat(",x", DefaultMaxColumns) + "\n+14155550100" + strings.Repeat(",", DefaultMaxColumns) + "\n", LimitColumns},
	}
	for _, tc := range tests {
		_, err := ReadOptOuts(strings.NewReader(tc.in), Options{})
		var le *LimitError
		if !errors.As(err, &le) || le.Limit != tc.limit || le.Line != 1 {
			t.Errorf("%s: error %v; want a *LimitError (%s) on line 1", tc.name, err, tc.limit)
		}
	}
	if _, err := ReadOptOuts(strings.NewReader("phone"+strings.Repeat(",x", DefaultMaxColumns-1)+"\n+14155550100\n"), Options{}); err != nil {
		t.Errorf("a header of %d cells: %v", DefaultMaxColumns, err)
	}
}
