package csvio

import (
	"bufio"
	"encoding/csv"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/patient-outreach/sms/outreach"
)

// responseHeader is the header row a ResponseWriter writes.
var responseHeader = []string{
	"patient_id", "patient_first_name", "patient_phone",
	"question_id", "answer", "raw_reply", "replied_at", "outcome",
	"review", "alert",
}

// ResponseRow is one line of a responses file: one recipient's answer to
// one question.
type ResponseRow struct {
	PatientID  string
	FirstName  string
	Phone      string // E.164
	QuestionID string
	// Answer is the normalised answer ("yes", "7"); empty when the reply
	// did not match or there was none.
	Answer string
	// Raw is the reply as the patient wrote it.
	Raw string
	// RepliedAt is when the reply was received; the zero time writes an
	// empty cell.
	RepliedAt time.Time
	// Outcome is how the recipient's conversation ended (see the
	// outreach.Outcome constants), empty while it runs.
	Outcome string
	// Review says why the reply could not be read with confidence
	// ([outreach.Doubt.Describe]); empty when it was read.
	Review string
	// Alert lists the urgent terms the reply held ("chest pain; call
	// me"), empty when none (see [outreach.Alert]).
	Alert string
}

// NewResponseRow returns the row for a response of a conversation.
func NewResponseRow(c outreach.Conversation, r outreach.Response) ResponseRow {
	return ResponseRow{
		PatientID:  c.Recipient.ID,
		FirstName:  c.Recipient.FirstName,
		Phone:      c.Recipient.Phone,
		QuestionID: r.QuestionID,
		Answer:     r.Answer,
		Raw:        r.Raw,
		RepliedAt:  r.RepliedAt,
		Outcome:    c.Outcome,
		Review:     describeDoubt(r.Doubt),
	}
}

func describeDoubt(d outreach.Doubt) string {
	if d == "" {
		return ""
	}
	return d.Describe()
}

// ResponseWriter writes a responses file: a UTF-8 byte order mark (so that
// Excel reads names with accents correctly), the header row
//
//	patient_id,patient_first_name,patient_phone,question_id,answer,raw_reply,replied_at,outcome,review,alert
//
// then one row per Write, with replied_at in RFC 3339 form in UTC.
// Readers of the file that do not expect the byte order mark must skip it
// (gocsv and this package's reader do). Every cell is passed through [Neutralize], so the file
// is safe to open in a spreadsheet.
//
// It writes through encoding/csv rather than gocsv: gocsv's writers take
// whole slices or a channel and flush after each call, where this needs one
// row at a time. It is not safe for concurrent use.
type ResponseWriter struct {
	bw     *bufio.Writer // under w, for the byte order mark
	w      *csv.Writer
	header bool // header written
	cells  []string
}

// NewResponseWriter returns a writer that writes to w. Call
// [ResponseWriter.Flush] when done.
func NewResponseWriter(w io.Writer) *ResponseWriter {
	bw := bufio.NewWriter(w)
	// csv.NewWriter uses bw itself as its buffer.
	return &ResponseWriter{bw: bw, w: csv.NewWriter(bw), cells: make([]string, len(responseHeader))}
}

// Write writes one row, after the header if it is the first. Rows are
// buffered: call Flush to write them out.
func (rw *ResponseWriter) Write(r ResponseRow) error {
	if err := rw.writeHeader(); err != nil {
		return err
	}
	var replied string
	if !r.RepliedAt.IsZero() {
		replied = r.RepliedAt.UTC().Format(time.RFC3339)
	}
	for i, v := range []string{r.PatientID, r.FirstName, r.Phone, r.QuestionID, r.Answer, r.Raw, replied, r.Outcome, r.Review, r.Alert} {
		rw.cells[i] = Neutralize(v)
	}
	return rw.w.Write(rw.cells)
}

// Flush writes any buffered rows (and the header, if no row was written)
// and reports any error that occurred while writing.
func (rw *ResponseWriter) Flush() error {
	if err := rw.writeHeader(); err != nil {
		return err
	}
	rw.w.Flush()
	return rw.w.Error()
}

func (rw *ResponseWriter) writeHeader() error {
	if rw.header {
		return nil
	}
	rw.header = true
	if _, err := rw.bw.WriteString("\ufeff"); err != nil {
		return err
	}
	return rw.w.Write(responseHeader)
}

// Neutralize makes a cell safe to open in a spreadsheet (OWASP's CSV
// injection advice): a cell starting with '=', '+', '-', '@', a tab or a
// carriage return, which Excel, LibreOffice or Google Sheets could run as a
// formula, gets a leading single quote. Other cells are returned as they are.
//
// E.164 phone numbers start with '+', so "+14406443709" is written as
// "'+14406443709": a spreadsheet shows it as text, where it would otherwise
// read it as a number (losing the '+') or a formula. Negative numbers get
// the quote too.
func Neutralize(s string) string {
	// Spreadsheets may skip leading spaces, NULs and invisible characters
	// before reading a formula.
	t := strings.TrimLeftFunc(s, func(r rune) bool {
		return r == 0 || r == ' ' || r == '\u00a0' || r == '\u200b' || r == '\ufeff' || r == '\u3000'
	})
	if t == "" {
		return s
	}
	switch t[0] {
	case '=', '+', '-', '@', '\t', '\r', '\n':
		return "'" + s
	}
	if r, _ := utf8.DecodeRuneInString(t); r == '＝' || r == '＋' || r == '－' || r == '＠' {
		return "'" + s // full-width forms, which some locales read as formulas
	}
	return s
}
