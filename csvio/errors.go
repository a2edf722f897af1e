package csvio

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Reasons a row is refused, or warned about. A [*RowError] matches one of
// them with [errors.Is]. None of their messages holds a value from the file.
var (
	// ErrEmptyID: the patient_id cell is empty.
	ErrEmptyID = errors.New("patient_id is empty")
	// ErrDuplicateID: an earlier row has the same patient_id (compared
	// exactly once trimmed: case matters).
	ErrDuplicateID = errors.New("duplicate patient_id")
	// ErrMissingPhone: the patient_phone cell is empty.
	ErrMissingPhone = errors.New("patient_phone is empty")
	// ErrInvalidPhone: the phone number cannot be normalised. The
	// [*RowError] also matches the [outreach.PhoneError] that says why
	// (outreach.ErrPhoneTooShort, outreach.ErrPhoneLetters, ...).
	ErrInvalidPhone = errors.New("invalid phone number")
	// ErrBadTimeZone: the timezone cell is not an IANA zone name such as
	// America/Phoenix.
	ErrBadTimeZone = errors.New("unknown time zone")
	// ErrFieldTooLong: a cell is longer than Options.MaxFieldLen bytes.
	ErrFieldTooLong = errors.New("cell is too long")
	// ErrNotUTF8: a cell is not valid UTF-8, as when a spreadsheet saves
	// "CSV" in a legacy encoding.
	ErrNotUTF8 = errors.New("text is not UTF-8: save the file as \"CSV UTF-8\"")
	// ErrNoConsent: with Options.RequireConsent, the consent cell does not
	// record consent (yes, y, true or 1); the row is skipped.
	ErrNoConsent = errors.New("no consent recorded (consent must be yes, true or 1)")
	// ErrMalformed: the row breaks CSV syntax (a stray quote, a wrong number
	// of cells). The [*RowError] also matches the [encoding/csv] error
	// (csv.ErrBareQuote, csv.ErrQuote, csv.ErrFieldCount).
	ErrMalformed = errors.New("malformed CSV")

	// ErrSharedPhone (a warning): an earlier row has the same phone number.
	// Family members often share a phone, so the row is kept; their
	// conversations run one after the other.
	ErrSharedPhone = errors.New("phone number shared with another row")
	// ErrMissingFirstName (a warning): the patient_first_name cell is
	// empty, so messages will greet the patient without a name.
	ErrMissingFirstName = errors.New("patient_first_name is empty")
	// ErrUnnamedColumn (a warning): a cell holds a value in a column whose
	// header is empty; the value is ignored.
	ErrUnnamedColumn = errors.New("value in a column with no header is ignored")
)

// Header problems, matched by a [*HeaderError] with [errors.Is].
var (
	// ErrNoHeader: the file is empty, or holds only blank lines.
	ErrNoHeader = errors.New("the file is empty: the first line must be the header")
	// ErrMissingColumn: a required column is missing from the header
	// (consent too, with Options.RequireConsent).
	ErrMissingColumn = errors.New("missing required column")
	// ErrDuplicateColumn: two header cells name the same column.
	ErrDuplicateColumn = errors.New("duplicate column")
	// ErrUTF16: the file is UTF-16, as Excel's "Unicode Text" saves it.
	ErrUTF16 = errors.New("the file is UTF-16 text: save it as \"CSV UTF-8\"")
)

// RowError is a problem with one row: an error makes the row unusable, a
// warning does not. Its message names the line and column and says why,
// never the value: "line 7, column patient_phone: phone number is too
// short: check for missing digits or a missing area code".
type RowError struct {
	// Line is the line of the file where the row starts (the header is on
	// line 1 unless blank lines precede it). A quoted cell may hold line
	// breaks, so a row can span several lines.
	Line int
	// Column is the column's header, lower-cased and trimmed (the required
	// ones as patient_id, patient_first_name, patient_phone, timezone); it
	// is empty when the problem concerns the whole row. For a row read
	// from a FHIR resource (package fhirio), it is the element, as a
	// FHIRPath such as Patient.telecom[1].value.
	Column string
	// Resource is the id of the FHIR resource the row was read from, if
	// any (package fhirio).
	Resource string
	// Err says why; it matches one of the Err sentinels of this package.
	Err error
}

func (e *RowError) Error() string {
	where := fmt.Sprintf("line %d", e.Line)
	if e.Resource != "" {
		where += ", resource " + e.Resource
	}
	if e.Column == "" {
		return fmt.Sprintf("%s: %v", where, e.Err)
	}
	if e.Resource != "" {
		return fmt.Sprintf("%s, element %s: %v", where, e.Column, e.Err)
	}
	return fmt.Sprintf("%s, column %s: %v", where, e.Column, e.Err)
}

// Unwrap returns Err.
func (e *RowError) Unwrap() error { return e.Err }

// HeaderError reports a header the reader cannot work with. Nothing is read
// past it.
type HeaderError struct {
	// Columns names the columns concerned (for ErrMissingColumn, every
	// missing one), if any.
	Columns []string
	// Err is ErrNoHeader, ErrMissingColumn, ErrDuplicateColumn, ErrUTF16,
	// ErrNotUTF8, or ErrMalformed wrapping the encoding/csv error.
	Err error
}

func (e *HeaderError) Error() string {
	msg := "csvio: header: " + e.Err.Error()
	if len(e.Columns) > 1 {
		msg += "s" // column -> columns
	}
	if len(e.Columns) > 0 {
		msg += " " + strings.Join(e.Columns, ", ")
	}
	if errors.Is(e.Err, ErrMissingColumn) && len(e.Columns) == len(required) {
		msg += " (the first line must be a header naming them)"
	}
	if errors.Is(e.Err, ErrMissingColumn) && slices.Contains(e.Columns, ColumnConsent) {
		msg += " (this campaign requires consent: add a consent column saying yes, true or 1 for each patient)"
	}
	return msg
}

// Unwrap returns Err.
func (e *HeaderError) Unwrap() error { return e.Err }

// Limit names a limit of [Options].
type Limit string

// Limits a file can exceed.
const (
	LimitBytes     Limit = "bytes"      // Options.MaxBytes
	LimitRows      Limit = "rows"       // Options.MaxRows
	LimitColumns   Limit = "columns"    // Options.MaxColumns
	LimitLineBytes Limit = "line_bytes" // Options.MaxLineLen
)

// LimitError reports a file over one of the limits of [Options]. The
// reader stops there: the rows read before it were complete, but the file
// was not read to its end.
type LimitError struct {
	Limit Limit
	// Max is the limit that was exceeded.
	Max int64
	// Line is the line where the first row over the limit starts
	// (LimitRows), the header's line (LimitColumns), or the line that is
	// too long (LimitLineBytes); zero for LimitBytes.
	Line int
}

func (e *LimitError) Error() string {
	switch e.Limit {
	case LimitRows:
		return fmt.Sprintf("csvio: the file has more than %d rows (line %d is over the limit); split it", e.Max, e.Line)
	case LimitColumns:
		return fmt.Sprintf("csvio: the header on line %d has more than %d columns; remove the columns the campaign does not need", e.Line, e.Max)
	case LimitLineBytes:
		return fmt.Sprintf("csvio: line %d is longer than %d bytes; is this a recipients file?", e.Line, e.Max)
	}
	return fmt.Sprintf("csvio: the file is larger than %d bytes; split it", e.Max)
}

// reasonError is a row error's reason: its own message, matching several
// errors (a sentinel of this package and the cause).
type reasonError struct {
	msg  string
	errs []error
}

func (e *reasonError) Error() string   { return e.msg }
func (e *reasonError) Unwrap() []error { return e.errs }

// because returns an error with the message msg that matches each of errs.
func because(msg string, errs ...error) error {
	return &reasonError{msg: msg, errs: errs}
}
