package csvio

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"iter"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gocarina/gocsv"

	"github.com/patient-outreach/sms/csvio/internal/lineset"
	"github.com/patient-outreach/sms/outreach"
)

// Column names of a recipients file, as the header writes them once
// lower-cased, trimmed, and with inner spaces read as underscores.
const (
	ColumnID        = "patient_id"         // required
	ColumnFirstName = "patient_first_name" // required; "patient_first" is accepted too
	ColumnPhone     = "patient_phone"      // required
	ColumnTimeZone  = "timezone"           // optional; "time_zone" is accepted too
	ColumnConsent   = "consent"            // required with Options.RequireConsent; else an extra column
)

// required lists the required columns in the order they are checked.
var required = []string{ColumnID, ColumnFirstName, ColumnPhone}

// aliases maps header spellings to the column they stand for.
var aliases = map[string]string{
	ColumnID:        ColumnID,
	ColumnFirstName: ColumnFirstName,
	"patient_first": ColumnFirstName,
	ColumnPhone:     ColumnPhone,
	ColumnTimeZone:  ColumnTimeZone,
	"time_zone":     ColumnTimeZone,
}

// Defaults of [Options].
const (
	DefaultRegion      = "US"
	DefaultMaxBytes    = 10 << 20
	DefaultMaxRows     = 100_000
	DefaultMaxFieldLen = 1_000
	DefaultMaxColumns  = 200
	DefaultMaxLineLen  = 64 << 10
)

// Options configures a [RecipientReader] and [ReadAll]. The zero value is
// ready to use.
type Options struct {
	// DefaultRegion is the ISO 3166 country of phone numbers written
	// without + and a country code. Default "US".
	DefaultRegion string
	// Comma is the delimiter. Zero detects ',' or ';' (as Excel saves CSV
	// in many locales) from the header line.
	Comma rune
	// MaxBytes limits the size of the file. Zero means DefaultMaxBytes
	// (10 MiB); a negative value means no limit.
	MaxBytes int64
	// MaxRows limits the number of rows, blank lines and the header not
	// counted. Zero means DefaultMaxRows (100,000); negative, no limit.
	MaxRows int
	// MaxFieldLen limits the length of a cell, in bytes after trimming.
	// Zero means DefaultMaxFieldLen (1,000); negative, no limit.
	MaxFieldLen int
	// MaxColumns limits the number of header cells. Zero means
	// DefaultMaxColumns (200); negative, no limit.
	MaxColumns int
	// MaxLineLen limits the length of a line of the file, in bytes, line
	// end included; a quoted cell that holds line breaks spans several
	// lines, each within the limit. It is enforced while reading, before
	// a line is held whole in memory. Zero means DefaultMaxLineLen
	// (64 KiB); negative, no limit.
	MaxLineLen int
	// RequireConsent makes the file need a consent column (else a
	// [*HeaderError] matching ErrMissingColumn) and refuses every row
	// whose consent cell is not yes, y, true or 1 (in any case, spaces
	// trimmed): such a row gets a [*RowError] matching ErrNoConsent and
	// never becomes a recipient. Without it a consent column is an extra
	// column like any other.
	RequireConsent bool
	// StopOnError makes [ReadAll] stop at the first row with an error and
	// return that error. A [RecipientReader] leaves the choice to its caller.
	StopOnError bool
}

// withDefaults returns o with its zero values replaced by the defaults, or
// an error if a setting is unusable.
func (o Options) withDefaults() (Options, error) {
	if o.DefaultRegion == "" {
		o.DefaultRegion = DefaultRegion
	}
	region := strings.ToUpper(o.DefaultRegion)
	if len(region) != 2 || region[0] < 'A' || region[0] > 'Z' || region[1] < 'A' || region[1] > 'Z' {
		return o, errors.New("csvio: Options.DefaultRegion must be a two-letter country code such as US")
	}
	o.DefaultRegion = region
	if o.Comma != 0 && (o.Comma == '"' || o.Comma == '\r' || o.Comma == '\n' || o.Comma == utf8.RuneError || !utf8.ValidRune(o.Comma)) {
		return o, errors.New("csvio: Options.Comma is not a usable delimiter")
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxRows == 0 {
		o.MaxRows = DefaultMaxRows
	}
	if o.MaxFieldLen == 0 {
		o.MaxFieldLen = DefaultMaxFieldLen
	}
	if o.MaxColumns == 0 {
		o.MaxColumns = DefaultMaxColumns
	}
	if o.MaxLineLen == 0 {
		o.MaxLineLen = DefaultMaxLineLen
	}
	return o, nil
}

// Row is one data row of a recipients file.
type Row struct {
	// Line is the line where the row starts.
	Line int
	// Recipient is the row's recipient, with its phone in E.164 form. It
	// is complete only when Errors is empty.
	Recipient outreach.Recipient
	// Errors lists what makes the row unusable, in column order.
	Errors []*RowError
	// Warnings lists what is worth a look but does not stop the row.
	Warnings []*RowError
}

// OK reports whether the row has no error, so that its Recipient can be used.
func (r Row) OK() bool { return len(r.Errors) == 0 }

// record is what gocsv fills from a row; other columns end up in
// Recipient.Attrs.
type record struct {
	ID        string `csv:"patient_id"`
	FirstName string `csv:"patient_first_name"`
	Phone     string `csv:"patient_phone"`
	TimeZone  string `csv:"timezone"`
}

// RecipientReader decodes a recipients file row by row, without holding
// the file in memory. Create one with [NewRecipientReader] and call
// [RecipientReader.Next] until it returns io.EOF. It is not safe for
// concurrent use.
type RecipientReader struct {
	opts    Options
	cr      *csv.Reader
	um      *gocsv.Unmarshaller
	columns int      // cells in the header
	extras  []string // extra columns (Recipient.Attrs keys), in file order
	unnamed []unnamedColumn
	// ids and phones are compact sets of what earlier rows held, with
	// the line of the first: a patient_id by its 64-bit hash (idHash),
	// an E.164 phone by its digits as a number, exactly. A million rows
	// keep about 36 bytes each (lineset), against about 100 as maps of
	// strings. Two ids share a hash with a chance of about 3 in 100
	// million in a million-row file; the second would be reported as a
	// duplicate.
	ids      lineset.Set
	idSeed   maphash.Seed
	phones   lineset.Set
	zones    map[string]bool
	rows     int
	lastLine int
	err      error // sticky: io.EOF or a fatal error
}

// newCSVReader returns the csv.Reader that every file of this package is
// read with, under opts (with its defaults): the size and line-length
// limits enforced while the bytes are read, the delimiter detected. Its
// records are reused: callers copy what they keep.
func newCSVReader(r io.Reader, opts Options) (*csv.Reader, error) {
	if opts.MaxBytes > 0 {
		r = &limitedReader{r: r, n: opts.MaxBytes}
	}
	if opts.MaxLineLen > 0 {
		// Below the buffer: encoding/csv holds a whole line (a whole
		// record) before it returns anything, so a line over the limit
		// must fail while it is read.
		r = &lineLimitReader{r: r, max: opts.MaxLineLen, line: 1}
	}
	br := bufio.NewReaderSize(r, 64<<10)
	comma, err := sniff(br, opts.Comma)
	if err != nil {
		return nil, readError(err, opts, 0)
	}
	cr := csv.NewReader(br)
	cr.Comma = comma
	// Lets `a, "b, c"` read as two cells; off for a white-space delimiter,
	// whose empty cells it would swallow.
	cr.TrimLeadingSpace = !unicode.IsSpace(comma)
	cr.ReuseRecord = true
	// FieldsPerRecord stays 0: encoding/csv takes the header's cell count
	// and reports any other count as csv.ErrFieldCount on that row.
	return cr, nil
}

// NewRecipientReader reads and checks the header of a recipients file. The
// header must name patient_id, patient_first_name (or patient_first) and
// patient_phone, in any order, case and surrounding spaces; it may name
// timezone and any other columns, which end up in Recipient.Attrs.
//
// A header that cannot be used gives a [*HeaderError]; a file over
// Options.MaxBytes, a header line over Options.MaxLineLen or a header with
// more cells than Options.MaxColumns, a [*LimitError].
func NewRecipientReader(r io.Reader, opts Options) (*RecipientReader, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	cr, err := newCSVReader(r, opts)
	if err != nil {
		return nil, err
	}
	um, err := gocsv.NewUnmarshaller(cr, &record{})
	switch {
	case err == io.EOF:
		return nil, &HeaderError{Err: ErrNoHeader}
	case errors.Is(err, gocsv.ErrDoubleHeaderNames): // only if someone set gocsv.FailIfDoubleHeaderNames
		return nil, &HeaderError{Err: ErrDuplicateColumn}
	case err != nil:
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, &HeaderError{Err: malformed(pe, 0)}
		}
		return nil, readError(err, opts, 0)
	}

	rr := &RecipientReader{
		opts:    opts,
		cr:      cr,
		um:      um,
		columns: len(um.Headers),
		idSeed:  maphash.MakeSeed(),
		zones:   map[string]bool{},
	}
	rr.lastLine, _ = cr.FieldPos(0) // the header's line
	if opts.MaxColumns > 0 && len(um.Headers) > opts.MaxColumns {
		return nil, &LimitError{Limit: LimitColumns, Max: int64(opts.MaxColumns), Line: rr.lastLine}
	}
	keys, err := rr.header(um.Headers)
	if err != nil {
		return nil, err
	}
	// gocsv matches header cells to struct tags exactly (its normaliser is
	// a package global, which we leave alone): give it the normalised
	// header, for this reader only.
	if err := um.RenormalizeHeaders(func([]string) []string { return keys }); err != nil {
		return nil, fmt.Errorf("csvio: header: %w", err)
	}
	// Make sure gocsv mapped every required column: changed gocsv settings
	// (gocsv.TagName) would otherwise make every row look blank.
	for _, f := range um.MismatchedStructFields {
		if f != ColumnTimeZone {
			return nil, fmt.Errorf("csvio: gocsv did not map column %s: csvio needs gocsv's default settings", f)
		}
	}
	return rr, nil
}

// header checks the header cells and returns their keys: the column name
// for the known columns, the lower-cased trimmed header for the others
// (recorded in rr.extras), and a placeholder for unnamed ones (recorded in
// rr.unnamed).
func (rr *RecipientReader) header(cells []string) ([]string, error) {
	keys := make([]string, len(cells))
	seen := make(map[string]int, len(cells))
	var dups []string
	for i, h := range cells {
		if !utf8.ValidString(h) {
			return nil, &HeaderError{Err: ErrNotUTF8}
		}
		key := strings.ToLower(strings.TrimSpace(strings.Map(dropZeroWidth, h)))
		if rr.opts.MaxFieldLen > 0 && len(key) > rr.opts.MaxFieldLen {
			return nil, &HeaderError{Err: ErrFieldTooLong}
		}
		_, known := aliases[strings.Join(strings.Fields(key), "_")]
		switch {
		case known:
			key = aliases[strings.Join(strings.Fields(key), "_")]
		case key == "":
			key = fmt.Sprintf("column_%d", i+1)
			rr.unnamed = append(rr.unnamed, unnamedColumn{key: key, pos: i + 1})
		default:
			// "Clinic Name" is read as {{data.clinic_name}}.
			key = strings.Join(strings.Fields(key), "_")
			rr.extras = append(rr.extras, key)
		}
		if first, ok := seen[key]; ok {
			// Our own column names by name; any other by position, never
			// by its text: a file saved without its header has patient
			// data where the names should be.
			name := fmt.Sprintf("columns %d and %d", first, i+1)
			if known {
				name = key
			}
			if !slices.Contains(dups, name) {
				dups = append(dups, name)
			}
		} else {
			seen[key] = i + 1
		}
		keys[i] = key
	}
	// Missing columns first: a file saved without its header is told so.
	var missing []string
	for _, c := range required {
		if seen[c] == 0 {
			missing = append(missing, c)
		}
	}
	if missing != nil {
		return nil, &HeaderError{Columns: missing, Err: ErrMissingColumn}
	}
	if dups != nil {
		return nil, &HeaderError{Columns: dups, Err: ErrDuplicateColumn}
	}
	if rr.opts.RequireConsent && seen[ColumnConsent] == 0 {
		return nil, &HeaderError{Columns: []string{ColumnConsent}, Err: ErrMissingColumn}
	}
	return keys, nil
}

// unnamedColumn is a column whose header cell is empty.
type unnamedColumn struct {
	key string // its placeholder key, column_N
	pos int    // its position, 1-based
}

// Next returns the next data row, skipping blank lines and rows whose cells
// are all empty or spaces. (A line of spaces alone, with no delimiters, has
// the wrong number of cells: it is reported as malformed.) A row with bad data
// is returned with Row.Errors set (a malformed one too, when encoding/csv
// can carry on after it): it is never dropped. At the end of the file Next
// returns io.EOF; a file over a limit gives a [*LimitError], and a read
// error stops the reader too. Once Next has returned an error it returns
// the same error again.
func (rr *RecipientReader) Next() (Row, error) {
	for rr.err == nil {
		rec, extra, err := rr.read()
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				rr.err = readError(err, rr.opts, rr.lastLine)
				break
			}
			if err := rr.count(pe.StartLine); err != nil {
				return Row{}, err
			}
			rr.lastLine = pe.Line
			return Row{Line: pe.StartLine, Errors: []*RowError{{Line: pe.StartLine, Err: malformed(pe, rr.columns)}}}, nil
		}
		line, _ := rr.cr.FieldPos(0)
		rr.lastLine = line
		if blank(rec, extra) {
			continue
		}
		if err := rr.count(line); err != nil {
			return Row{}, err
		}
		return rr.check(line, rec, extra), nil
	}
	return Row{}, rr.err
}

// read reads one record through gocsv; extra is nil when the file has no
// column besides the known ones.
func (rr *RecipientReader) read() (rec *record, extra map[string]string, err error) {
	var v any
	if len(rr.extras) == 0 && len(rr.unnamed) == 0 {
		v, err = rr.um.Read()
	} else {
		v, extra, err = rr.um.ReadUnmatched()
	}
	if err != nil {
		return nil, nil, err
	}
	return v.(*record), extra, nil
}

// count counts a data row starting on line, or reports that it is one too many.
func (rr *RecipientReader) count(line int) error {
	if rr.opts.MaxRows > 0 && rr.rows >= rr.opts.MaxRows {
		rr.err = &LimitError{Limit: LimitRows, Max: int64(rr.opts.MaxRows), Line: line}
		return rr.err
	}
	rr.rows++
	return nil
}

// blank reports whether every cell of a row is empty or spaces, as in the
// ";;;" lines spreadsheets leave behind.
func blank(rec *record, extra map[string]string) bool {
	if strings.TrimSpace(rec.ID) != "" || strings.TrimSpace(rec.FirstName) != "" ||
		strings.TrimSpace(rec.Phone) != "" || strings.TrimSpace(rec.TimeZone) != "" {
		return false
	}
	for _, v := range extra {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}

// check validates a row and builds its recipient.
func (rr *RecipientReader) check(line int, rec *record, extra map[string]string) Row {
	row := Row{Line: line}
	fail := func(col string, err error) {
		row.Errors = append(row.Errors, &RowError{Line: line, Column: col, Err: err})
	}
	warn := func(col string, err error) {
		row.Warnings = append(row.Warnings, &RowError{Line: line, Column: col, Err: err})
	}
	// cell trims a value and checks its length and encoding.
	cell := func(col, v string) (string, bool) {
		v = strings.TrimSpace(v)
		if rr.opts.MaxFieldLen > 0 && len(v) > rr.opts.MaxFieldLen {
			fail(col, because(fmt.Sprintf("%v (%d bytes; the limit is %d)", ErrFieldTooLong, len(v), rr.opts.MaxFieldLen), ErrFieldTooLong))
			return "", false
		}
		if !utf8.ValidString(v) {
			fail(col, ErrNotUTF8)
			return "", false
		}
		return v, true
	}
	r := &row.Recipient

	if id, ok := cell(ColumnID, rec.ID); ok {
		r.ID = id
		if id == "" {
			fail(ColumnID, ErrEmptyID)
		} else if first, dup := rr.ids.Add(maphash.String(rr.idSeed, id), int32(line)); dup {
			fail(ColumnID, because(fmt.Sprintf("%v: line %d has the same one", ErrDuplicateID, first), ErrDuplicateID))
		}
	}

	if name, ok := cell(ColumnFirstName, rec.FirstName); ok {
		r.FirstName = name
		if name == "" {
			warn(ColumnFirstName, ErrMissingFirstName)
		}
	}

	if raw, ok := cell(ColumnPhone, rec.Phone); ok {
		if raw == "" {
			fail(ColumnPhone, ErrMissingPhone)
		} else if phone, err := outreach.NormalizePhone(raw, rr.opts.DefaultRegion); err != nil {
			// The phone error never holds the number.
			fail(ColumnPhone, because(strings.TrimPrefix(err.Error(), "outreach: "), ErrInvalidPhone, err))
		} else {
			r.Phone = phone
		}
	}

	if tz, ok := cell(ColumnTimeZone, rec.TimeZone); ok && tz != "" {
		if rr.knownZone(tz) {
			r.TimeZone = tz
		} else {
			fail(ColumnTimeZone, because(ErrBadTimeZone.Error()+": write an IANA name such as America/Phoenix, or leave it empty", ErrBadTimeZone))
		}
	}

	for _, k := range rr.extras {
		v, ok := cell(k, extra[k])
		if rr.opts.RequireConsent && k == ColumnConsent && !(ok && consented(v)) {
			if ok {
				fail(k, ErrNoConsent)
			}
			// else cell reported why the value cannot be read.
		}
		if ok {
			if r.Attrs == nil {
				r.Attrs = make(map[string]string, len(rr.extras))
			}
			r.Attrs[k] = v
		}
	}
	for _, c := range rr.unnamed {
		if strings.TrimSpace(extra[c.key]) != "" {
			warn("", because(fmt.Sprintf("a value in column %d, which has no header, is ignored", c.pos), ErrUnnamedColumn))
		}
	}

	if row.OK() {
		if first, shared := rr.phones.Add(phoneKey(r.Phone), int32(line)); shared {
			warn(ColumnPhone, because(fmt.Sprintf("%v: line %d has the same number; their conversations will run one after the other", ErrSharedPhone, first), ErrSharedPhone))
		}
	}
	return row
}

// consented reports whether a trimmed consent cell records consent: yes,
// y, true or 1, in any case.
func consented(v string) bool {
	switch strings.ToLower(v) {
	case "yes", "y", "true", "1":
		return true
	}
	return false
}

// phoneKey returns an E.164 number's digits as a number: at most 15
// digits, not starting with 0 after the +, so one number per key.
func phoneKey(e164 string) uint64 {
	var k uint64
	for i := 1; i < len(e164); i++ {
		k = k*10 + uint64(e164[i]-'0')
	}
	return k
}

// knownZone reports whether name is an IANA time zone this system knows.
func (rr *RecipientReader) knownZone(name string) bool {
	if ok, cached := rr.zones[name]; cached {
		return ok
	}
	// "Local" depends on the machine, and LoadLocation takes "" as UTC.
	_, err := time.LoadLocation(name)
	ok := err == nil && name != "Local"
	if len(rr.zones) < 1000 {
		rr.zones[strings.Clone(name)] = ok
	}
	return ok
}

// Result is a whole recipients file, read by [ReadAll].
type Result struct {
	// Recipients holds the rows without errors, in file order.
	Recipients []outreach.Recipient
	// Errors and Warnings list the problems of every row, in file order.
	Errors, Warnings []*RowError
	// Rows counts the data rows read (blank lines not counted): each is
	// either in Recipients or has at least one error.
	Rows int
	// BadRows counts the rows with at least one error.
	BadRows int
}

// ReadAll reads a whole recipients file. Every data row ends up either in
// Result.Recipients or with its errors in Result.Errors; none is dropped.
// With Options.StopOnError it stops at the first row with an error and
// returns that [*RowError] along with the rows read so far.
//
// The error is a [*HeaderError], a [*LimitError] or a read error when the
// file cannot be read to its end, or ctx's error when ctx is done first;
// the Result then holds the rows read before it, and the file should be
// refused as a whole.
func ReadAll(ctx context.Context, r io.Reader, opts Options) (Result, error) {
	var res Result
	rr, err := NewRecipientReader(r, opts)
	if err != nil {
		return res, err
	}
	err = EachRow(ctx, rr, func(row Row) error {
		res.Add(row)
		if !row.OK() && opts.StopOnError {
			return row.Errors[0]
		}
		return nil
	})
	return res, err
}

// EachRow calls fn with each row of rr, in file order, until the end of
// the file (then it returns nil), an error of rr (a file to refuse as a
// whole), ctx is done (ctx's error) or fn returns an error, which EachRow
// returns.
func EachRow(ctx context.Context, rr RowReader, fn func(Row) error) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		row, err := rr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(row); err != nil {
			return err
		}
	}
}

// Add counts row in r: its recipient goes to Recipients when it has no
// error, its errors and warnings to Errors and Warnings.
func (r *Result) Add(row Row) {
	r.Rows++
	r.Warnings = append(r.Warnings, row.Warnings...)
	if !row.OK() {
		r.BadRows++
		r.Errors = append(r.Errors, row.Errors...)
		return
	}
	r.Recipients = append(r.Recipients, row.Recipient)
}

// RowReader reads the rows of a recipients file one at a time: a
// [*RecipientReader], or fhirio's reader of FHIR Patients. Next returns
// io.EOF after the last row, and any other error when the file must be
// refused as a whole.
type RowReader interface {
	Next() (Row, error)
}

// Recipients returns an iterator over the recipients of rr's rows
// without errors, in file order, for outreach.CreateCampaignFrom: the
// rows with errors are skipped (read the file once before, with
// [ReadAll] or Next, to report them). It ends at the end of the file,
// and yields the error (with a zero Recipient) that stops it: one from
// rr, or ctx's when ctx is done.
func Recipients(ctx context.Context, rr RowReader) iter.Seq2[outreach.Recipient, error] {
	return func(yield func(outreach.Recipient, error) bool) {
		err := EachRow(ctx, rr, func(row Row) error {
			if row.OK() && !yield(row.Recipient, nil) {
				return errStopped
			}
			return nil
		})
		if err != nil && err != errStopped {
			yield(outreach.Recipient{}, err)
		}
	}
}

// errStopped ends EachRow when the caller of Recipients' iterator stops.
var errStopped = errors.New("csvio: stopped")

// malformed describes a CSV syntax error of a row (or of the header, when
// columns is 0).
func malformed(pe *csv.ParseError, columns int) error {
	var msg string
	switch {
	case errors.Is(pe.Err, csv.ErrFieldCount):
		msg = fmt.Sprintf("%v: wrong number of cells (the header has %d)", ErrMalformed, columns)
	case pe.Line > pe.StartLine:
		msg = fmt.Sprintf("%v: %v on line %d, byte %d; lines %d to %d were read as one row (is a quoted cell not closed?)",
			ErrMalformed, pe.Err, pe.Line, pe.Column, pe.StartLine, pe.Line)
	default:
		msg = fmt.Sprintf("%v: %v at byte %d", ErrMalformed, pe.Err, pe.Column)
	}
	return because(msg, ErrMalformed, pe.Err)
}

// readError turns an error from the underlying reader into the error Next
// and NewRecipientReader return.
func readError(err error, opts Options, line int) error {
	var le *lineTooLongError
	switch {
	case err == io.EOF:
		return io.EOF
	case errors.Is(err, errTooLarge):
		return &LimitError{Limit: LimitBytes, Max: opts.MaxBytes}
	case errors.As(err, &le):
		return &LimitError{Limit: LimitLineBytes, Max: int64(opts.MaxLineLen), Line: le.line}
	case line == 0:
		return fmt.Errorf("csvio: reading the file: %w", err)
	}
	return fmt.Errorf("csvio: reading after line %d: %w", line, err)
}

var (
	utf8BOM  = []byte{0xEF, 0xBB, 0xBF}
	utf16BOM = [][]byte{{0xFF, 0xFE}, {0xFE, 0xFF}}
)

// sniff skips a UTF-8 byte order mark and, when comma is 0, picks ',' or
// ';', whichever the header line (the first non-blank one) has more of
// outside quotes.
func sniff(br *bufio.Reader, comma rune) (rune, error) {
	head, err := br.Peek(br.Size())
	var le *lineTooLongError
	if errors.As(err, &le) {
		// A line within the read-ahead is too long: sniff from what was
		// read; encoding/csv meets the error again at that line.
		err = nil
	}
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return 0, err
	}
	for _, bom := range utf16BOM {
		if bytes.HasPrefix(head, bom) {
			return 0, &HeaderError{Err: ErrUTF16}
		}
	}
	if bytes.HasPrefix(head, utf8BOM) {
		br.Discard(len(utf8BOM))
		head = head[len(utf8BOM):]
	}
	if comma != 0 {
		return comma, nil
	}
	commas, semicolons := 0, 0
	quoted := false
	end := len(head)
	for i, c := range head {
		if c == '"' {
			quoted = !quoted
		}
		if quoted {
			continue
		}
		if c == ',' {
			commas++
		} else if c == ';' {
			semicolons++
		} else if c == '\n' && commas+semicolons > 0 {
			end = i
			break
		}
	}
	// The delimiter that splits out the required columns wins (Excel in a
	// ';' locale leaves "street, city" unquoted); else the more frequent.
	line := string(head[:end])
	byComma, bySemicolon := hasRequired(line, ','), hasRequired(line, ';')
	switch {
	case bySemicolon && !byComma:
		return ';', nil
	case byComma && !bySemicolon:
		return ',', nil
	case semicolons > commas:
		return ';', nil
	}
	return ',', nil
}

// hasRequired reports whether splitting the header line at comma yields
// the three required columns.
func hasRequired(line string, comma rune) bool {
	found := map[string]bool{}
	for _, cell := range strings.Split(line, string(comma)) {
		key := strings.Join(strings.Fields(strings.ToLower(strings.Trim(strings.Map(dropZeroWidth, cell), " \t\r\""))), "_")
		if a, ok := aliases[key]; ok {
			found[a] = true
		}
	}
	return found[ColumnID] && found[ColumnFirstName] && found[ColumnPhone]
}

// dropZeroWidth removes the zero-width characters spreadsheets leave in
// headers (strings.Map callback).
func dropZeroWidth(r rune) rune {
	switch r {
	case '\ufeff', '\u200b', '\u200c', '\u200d':
		return -1
	}
	return r
}

// errTooLarge is returned by limitedReader past its limit.
var errTooLarge = errors.New("csvio: input too large")

// limitedReader reads at most n bytes from r and then fails with
// errTooLarge if there is more (unlike io.LimitReader, which would make a
// cut file look complete).
type limitedReader struct {
	r   io.Reader
	n   int64 // bytes left
	err error
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	// Read one byte more than allowed to tell "exactly n" from "more".
	if int64(len(p))-1 > l.n {
		p = p[:l.n+1]
	}
	n, err := l.r.Read(p)
	if int64(n) <= l.n {
		l.n -= int64(n)
		l.err = err
		return n, err
	}
	n = int(l.n)
	l.n = 0
	l.err = errTooLarge
	return n, l.err
}

// lineTooLongError is returned by lineLimitReader at a line over its limit.
type lineTooLongError struct {
	line int // the line's number, from 1
}

func (e *lineTooLongError) Error() string {
	return fmt.Sprintf("csvio: line %d is too long", e.line)
}

// lineLimitReader reads from r and fails with a *lineTooLongError as soon
// as a line (counted in bytes up to and including its '\n') grows past
// max, before the rest of it is read. Once failed it keeps failing.
type lineLimitReader struct {
	r    io.Reader
	max  int
	cur  int // bytes of the current line read so far
	line int // the current line's number
	err  error
}

func (l *lineLimitReader) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.r.Read(p)
	for i, c := range p[:n] {
		l.cur++
		if l.cur > l.max {
			l.err = &lineTooLongError{line: l.line}
			return i, l.err
		}
		if c == '\n' {
			l.line++
			l.cur = 0
		}
	}
	return n, err
}
