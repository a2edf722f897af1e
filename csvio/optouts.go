package csvio

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/patient-outreach/sms/outreach"
)

// Columns of an opt-outs file, as [ExportOptOuts] writes them and
// [ReadOptOuts] reads them (lower-cased, trimmed, inner spaces read as
// underscores). ReadOptOuts also takes patient_phone for phone, and
// ignores any other column.
const (
	ColumnOptOutPhone = "phone"      // required
	ColumnOptedOut    = "opted_out"  // optional: yes/true/1 or no/false/0; empty or absent means yes
	ColumnChangedAt   = "changed_at" // optional: RFC 3339; required on rows that opt back in
)

// optOutHeader is the header row ExportOptOuts writes.
var optOutHeader = []string{ColumnOptOutPhone, ColumnOptedOut, ColumnChangedAt}

// optOutAliases maps header spellings to the opt-out column they stand for.
var optOutAliases = map[string]string{
	ColumnOptOutPhone: ColumnOptOutPhone,
	ColumnPhone:       ColumnOptOutPhone,
	ColumnOptedOut:    ColumnOptedOut,
	ColumnChangedAt:   ColumnChangedAt,
}

// Reasons an opt-outs row is refused; a [*RowError] matches one of them
// (or ErrMissingPhone, ErrInvalidPhone, ErrFieldTooLong, ErrNotUTF8,
// ErrMalformed) with [errors.Is].
var (
	// ErrBadOptedOut: the opted_out cell is not yes, true, 1, no, false
	// or 0.
	ErrBadOptedOut = errors.New("opted_out must be yes, true, 1, no, false or 0")
	// ErrBadChangedAt: the changed_at cell is not an RFC 3339 time.
	ErrBadChangedAt = errors.New("changed_at must be an RFC 3339 time such as 2026-03-02T17:00:00Z")
	// ErrOptInNeedsTime: a row opts a phone back in without changed_at.
	// Without its time such a row could undo a STOP the patient sent
	// after the CRM recorded the opt-in, so it is refused.
	ErrOptInNeedsTime = errors.New("a row with opted_out=no needs its changed_at, so that it cannot undo a newer STOP")
	// ErrFutureChange: changed_at is later than the import's time. A
	// change in the future would hide every STOP or START until then.
	ErrFutureChange = errors.New("changed_at is in the future")
)

// exportOptOutPage is how many opt-outs ExportOptOuts reads at a time.
const exportOptOutPage = 1000

// OptOutSource is what [ExportOptOuts] reads: any [outreach.Store] has it.
type OptOutSource interface {
	OptOuts(ctx context.Context, after string, limit int) ([]outreach.OptOutRecord, error)
}

// ExportOptOuts writes every phone's latest opt-out change to w, in phone
// order, for a CRM to import:
//
//	phone,opted_out,changed_at
//	'+14406443709,true,2026-03-02T17:00:00Z
//
// with opted_out true (opted out) or false (opted back in with START) and
// changed_at in RFC 3339 form in UTC. Like a responses file it starts with
// a UTF-8 byte order mark and every cell goes through [Neutralize]: phones
// get a leading single quote, which [ReadOptOuts] ignores. It reads the
// store a page at a time and returns how many rows it wrote.
func ExportOptOuts(ctx context.Context, w io.Writer, s OptOutSource) (int, error) {
	bw := bufio.NewWriter(w)
	cw := csv.NewWriter(bw)
	if _, err := bw.WriteString("\ufeff"); err != nil {
		return 0, fmt.Errorf("csvio: export opt-outs: %w", err)
	}
	if err := cw.Write(optOutHeader); err != nil {
		return 0, fmt.Errorf("csvio: export opt-outs: %w", err)
	}
	rows := 0
	after := ""
	cells := make([]string, len(optOutHeader))
	for {
		page, err := s.OptOuts(ctx, after, exportOptOutPage)
		if err != nil {
			return rows, fmt.Errorf("csvio: export opt-outs: %w", err)
		}
		for _, r := range page {
			cells[0] = Neutralize(r.Phone)
			cells[1] = fmt.Sprint(r.OptedOut)
			cells[2] = ""
			if !r.At.IsZero() {
				cells[2] = r.At.UTC().Format(time.RFC3339)
			}
			if err := cw.Write(cells); err != nil {
				return rows, fmt.Errorf("csvio: export opt-outs: %w", err)
			}
			rows++
		}
		if len(page) < exportOptOutPage {
			break
		}
		after = page[len(page)-1].Phone
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return rows, fmt.Errorf("csvio: export opt-outs: %w", err)
	}
	return rows, nil
}

// OptOut is one usable row of an opt-outs file.
type OptOut struct {
	// Line is the line where the row starts.
	Line int
	// Phone is the number in E.164 form.
	Phone string
	// OptedOut is true to opt the phone out, false to opt it back in.
	OptedOut bool
	// At is the row's changed_at, in UTC; zero when the row has none
	// (then [ImportOptOuts] uses the import's time). Rows that opt back in
	// always have one.
	At time.Time
}

// OptOutFile is an opt-outs file read by [ReadOptOuts].
type OptOutFile struct {
	// OptOuts holds the rows without errors, in file order. A phone may
	// appear on several rows (a CRM's history): importing them in order
	// keeps the latest change of each.
	OptOuts []OptOut
	// Errors lists the problems of every refused row, in file order.
	Errors []*RowError
	// Rows counts the data rows read (blank lines not counted): each is
	// either in OptOuts or has at least one error.
	Rows int
	// BadRows counts the rows with at least one error.
	BadRows int
}

// ReadOptOuts reads an opt-outs file, such as a CRM's list of patients who
// asked not to be texted, or a file [ExportOptOuts] wrote. Its header must
// name a phone column (phone or patient_phone); it may name opted_out
// (yes/true/1 or no/false/0, in any case; empty or absent means yes) and
// changed_at (RFC 3339); other columns are ignored. Phones are normalised
// as in a recipients file (opts.DefaultRegion; a leading single quote, as
// a spreadsheet-safe export writes, is ignored). The file is read with
// the same tolerance (byte order mark, ';' delimiter, blank lines) and
// limits (opts.MaxBytes, MaxRows, MaxFieldLen, MaxColumns, MaxLineLen) as
// [ReadAll].
//
// Every data row ends up either in OptOutFile.OptOuts or with its errors
// in OptOutFile.Errors; none is dropped. A row that opts back in must have
// its changed_at ([ErrOptInNeedsTime]). With opts.StopOnError it stops at
// the first bad row and returns its [*RowError]. Any other error (a
// [*HeaderError], a [*LimitError], a read error) means the file could not
// be read to its end and should be refused as a whole.
func ReadOptOuts(r io.Reader, opts Options) (OptOutFile, error) {
	var res OptOutFile
	opts, err := opts.withDefaults()
	if err != nil {
		return res, err
	}
	cr, err := newCSVReader(r, opts)
	if err != nil {
		return res, err
	}
	header, err := cr.Read()
	switch {
	case err == io.EOF:
		return res, &HeaderError{Err: ErrNoHeader}
	case err != nil:
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return res, &HeaderError{Err: malformed(pe, 0)}
		}
		return res, readError(err, opts, 0)
	}
	columns := len(header)
	lastLine, _ := cr.FieldPos(0)
	if opts.MaxColumns > 0 && columns > opts.MaxColumns {
		return res, &LimitError{Limit: LimitColumns, Max: int64(opts.MaxColumns), Line: lastLine}
	}
	cols, err := optOutColumns(header, opts)
	if err != nil {
		return res, err
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return res, nil
		}
		var row []*RowError
		line := 0
		var o OptOut
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return res, readError(err, opts, lastLine)
			}
			line, lastLine = pe.StartLine, pe.Line
			row = []*RowError{{Line: line, Err: malformed(pe, columns)}}
		} else {
			line, _ = cr.FieldPos(0)
			lastLine = line
			if blankCells(rec) {
				continue
			}
			o, row = checkOptOut(line, rec, cols, opts)
		}
		if opts.MaxRows > 0 && res.Rows >= opts.MaxRows {
			return res, &LimitError{Limit: LimitRows, Max: int64(opts.MaxRows), Line: line}
		}
		res.Rows++
		if len(row) > 0 {
			res.BadRows++
			res.Errors = append(res.Errors, row...)
			if opts.StopOnError {
				return res, row[0]
			}
			continue
		}
		res.OptOuts = append(res.OptOuts, o)
	}
}

// optOutCols holds the positions of an opt-outs file's columns (-1: absent).
type optOutCols struct {
	phone, optedOut, changedAt int
}

// optOutColumns checks an opt-outs header and finds its columns.
func optOutColumns(cells []string, opts Options) (optOutCols, error) {
	cols := optOutCols{-1, -1, -1}
	var dups []string
	for i, h := range cells {
		if !utf8.ValidString(h) {
			return cols, &HeaderError{Err: ErrNotUTF8}
		}
		key := strings.ToLower(strings.TrimSpace(strings.Map(dropZeroWidth, h)))
		if opts.MaxFieldLen > 0 && len(key) > opts.MaxFieldLen {
			return cols, &HeaderError{Err: ErrFieldTooLong}
		}
		col, ok := optOutAliases[strings.Join(strings.Fields(key), "_")]
		if !ok {
			continue // a CRM's other columns
		}
		var p *int
		switch col {
		case ColumnOptOutPhone:
			p = &cols.phone
		case ColumnOptedOut:
			p = &cols.optedOut
		default:
			p = &cols.changedAt
		}
		if *p >= 0 {
			dups = append(dups, col)
			continue
		}
		*p = i
	}
	if cols.phone < 0 {
		return cols, &HeaderError{Columns: []string{ColumnOptOutPhone}, Err: ErrMissingColumn}
	}
	if dups != nil {
		return cols, &HeaderError{Columns: dups, Err: ErrDuplicateColumn}
	}
	return cols, nil
}

// blankCells reports whether every cell of a row is empty or spaces.
func blankCells(rec []string) bool {
	for _, c := range rec {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// checkOptOut validates one opt-outs row.
func checkOptOut(line int, rec []string, cols optOutCols, opts Options) (OptOut, []*RowError) {
	o := OptOut{Line: line, OptedOut: true}
	var errs []*RowError
	fail := func(col string, err error) {
		errs = append(errs, &RowError{Line: line, Column: col, Err: err})
	}
	cell := func(col string, i int) (string, bool) {
		if i < 0 || i >= len(rec) {
			return "", true
		}
		v := strings.TrimSpace(rec[i])
		if opts.MaxFieldLen > 0 && len(v) > opts.MaxFieldLen {
			fail(col, because(fmt.Sprintf("%v (%d bytes; the limit is %d)", ErrFieldTooLong, len(v), opts.MaxFieldLen), ErrFieldTooLong))
			return "", false
		}
		if !utf8.ValidString(v) {
			fail(col, ErrNotUTF8)
			return "", false
		}
		return v, true
	}

	if raw, ok := cell(ColumnOptOutPhone, cols.phone); ok {
		raw = strings.TrimSpace(strings.TrimPrefix(raw, "'")) // as Neutralize writes it
		if raw == "" {
			fail(ColumnOptOutPhone, ErrMissingPhone)
		} else if phone, err := outreach.NormalizePhone(raw, opts.DefaultRegion); err != nil {
			fail(ColumnOptOutPhone, because(strings.TrimPrefix(err.Error(), "outreach: "), ErrInvalidPhone, err))
		} else {
			o.Phone = phone
		}
	}
	optedOutOK := false
	if v, ok := cell(ColumnOptedOut, cols.optedOut); ok {
		switch strings.ToLower(v) {
		case "", "yes", "true", "1":
			o.OptedOut, optedOutOK = true, true
		case "no", "false", "0":
			o.OptedOut, optedOutOK = false, true
		default:
			fail(ColumnOptedOut, ErrBadOptedOut)
		}
	}
	if v, ok := cell(ColumnChangedAt, cols.changedAt); ok && v != "" {
		// RFC 3339, with a space for the T as databases often write it.
		if len(v) > 10 && v[10] == ' ' {
			v = v[:10] + "T" + v[11:]
		}
		if t, err := time.Parse(time.RFC3339Nano, v); err != nil {
			fail(ColumnChangedAt, ErrBadChangedAt)
		} else {
			o.At = t.UTC()
		}
	} else if ok && optedOutOK && !o.OptedOut {
		fail(ColumnChangedAt, ErrOptInNeedsTime)
	}
	return o, errs
}

// OptOutSetter is what [ImportOptOuts] writes to: any [outreach.Store]
// has it.
type OptOutSetter interface {
	SetOptOut(ctx context.Context, world, phone string, optedOut bool, at time.Time) error
}

// futureSlack is how far ahead of the import's time a changed_at may be
// (clocks differ a little); such a time is recorded as the import's time.
const futureSlack = 5 * time.Minute

// ImportOptOuts records list in s in order with SetOptOut, each at its
// row's time, or at now when the row has none. The store keeps the latest
// change of each phone, so an older CRM entry never overrides a newer STOP
// or START. A row that opts back in without a time is refused with
// [ErrOptInNeedsTime], and a row whose time is more than five minutes after now is
// refused with [ErrFutureChange] (it would hide every STOP or START
// until then) and returned in refused; one less far ahead is recorded at
// now. The changes are recorded in world, that of the program importing
// (see [outreach.Store.SetOptOut]: an opt-in lifts only an opt-out of its
// own world, or a simulated one). It returns how many rows it recorded,
// and stops at the first store error.
func ImportOptOuts(ctx context.Context, s OptOutSetter, world string, list []OptOut, now time.Time) (recorded int, refused []*RowError, err error) {
	if now.IsZero() {
		return 0, nil, errors.New("csvio: import opt-outs: the import's time is zero")
	}
	for _, o := range list {
		at := o.At
		switch {
		case at.IsZero() && !o.OptedOut:
			refused = append(refused, &RowError{Line: o.Line, Column: ColumnChangedAt, Err: ErrOptInNeedsTime})
			continue
		case at.IsZero():
			at = now
		case at.After(now.Add(futureSlack)):
			refused = append(refused, &RowError{Line: o.Line, Column: ColumnChangedAt, Err: ErrFutureChange})
			continue
		case at.After(now):
			at = now
		}
		if err := s.SetOptOut(ctx, world, o.Phone, o.OptedOut, at); err != nil {
			return recorded, refused, fmt.Errorf("csvio: import opt-out of line %d: %w", o.Line, err)
		}
		recorded++
	}
	return recorded, refused, nil
}
