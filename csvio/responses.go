package csvio

import (
	"bufio"
	"io"
	"strings"
	"time"
	"unicode"
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
// It writes the CSV itself, as encoding/csv's Writer (with its default
// settings) would, rather than through gocsv: gocsv's writers take whole
// slices or a channel and flush after each call, where this needs one
// row at a time, and writing each cell straight into the buffer spares
// a copy of every neutralised cell and of every time. It is not safe for
// concurrent use.
type ResponseWriter struct {
	bw     *bufio.Writer
	header bool   // header written
	time   []byte // scratch for replied_at
}

// NewResponseWriter returns a writer that writes to w. Call
// [ResponseWriter.Flush] when done.
func NewResponseWriter(w io.Writer) *ResponseWriter {
	return &ResponseWriter{bw: bufio.NewWriter(w), time: make([]byte, 0, len(time.RFC3339)+8)}
}

// Write writes one row, after the header if it is the first. Rows are
// buffered: call Flush to write them out.
func (rw *ResponseWriter) Write(r ResponseRow) error {
	if err := rw.writeHeader(); err != nil {
		return err
	}
	for i, v := range [...]string{r.PatientID, r.FirstName, r.Phone, r.QuestionID, r.Answer, r.Raw, "", r.Outcome, r.Review, r.Alert} {
		if i > 0 {
			rw.bw.WriteByte(',')
		}
		if i == 6 && !r.RepliedAt.IsZero() {
			rw.time = r.RepliedAt.UTC().AppendFormat(rw.time[:0], time.RFC3339)
			if c := rw.time[0]; c >= '0' && c <= '9' {
				rw.bw.Write(rw.time) // years 0 to 9999: nothing to neutralise or quote
				continue
			}
			v = string(rw.time)
		}
		writeField(rw.bw, neutralizes(v), v)
	}
	// bufio.Writer keeps its first error and returns it from every later
	// call.
	return rw.bw.WriteByte('\n')
}

// Flush writes any buffered rows (and the header, if no row was written)
// and reports any error that occurred while writing.
func (rw *ResponseWriter) Flush() error {
	if err := rw.writeHeader(); err != nil {
		return err
	}
	return rw.bw.Flush()
}

func (rw *ResponseWriter) writeHeader() error {
	if rw.header {
		return nil
	}
	rw.header = true
	rw.bw.WriteString("\ufeff")
	for i, h := range responseHeader {
		if i > 0 {
			rw.bw.WriteByte(',')
		}
		writeField(rw.bw, false, h)
	}
	return rw.bw.WriteByte('\n')
}

// writeField writes the CSV field of s, with a leading single quote when
// quote is set, exactly as encoding/csv's Writer (comma ',', no CRLF)
// writes the string "'"+s (or s): in double quotes, each doubled, when
// the field holds a comma, a double quote, a carriage return or a line
// feed, starts with a space (unicode.IsSpace) or is `\.`.
func writeField(bw *bufio.Writer, quote bool, s string) {
	special := strings.ContainsAny(s, ",\"\r\n")
	if !special && !quote && s != "" {
		if s == `\.` {
			special = true
		} else if s[0] < utf8.RuneSelf {
			special = asciiSpace[s[0]]
		} else {
			r, _ := utf8.DecodeRuneInString(s)
			special = unicode.IsSpace(r)
		}
	}
	if !special {
		if quote {
			bw.WriteByte('\'')
		}
		bw.WriteString(s)
		return
	}
	bw.WriteByte('"')
	if quote {
		bw.WriteByte('\'')
	}
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			break
		}
		bw.WriteString(s[:i+1])
		bw.WriteByte('"')
		s = s[i+1:]
	}
	bw.WriteString(s)
	bw.WriteByte('"')
}

// asciiSpace marks the ASCII bytes unicode.IsSpace reports.
var asciiSpace = [utf8.RuneSelf]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

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
	if neutralizes(s) {
		return "'" + s
	}
	return s
}

// neutralizes reports whether [Neutralize] quotes s.
func neutralizes(s string) bool {
	if s == "" {
		return false
	}
	if c := s[0]; c < utf8.RuneSelf && c != 0 && c != ' ' {
		return formulaStart[c] // the common case: nothing to skip
	}
	// Spreadsheets may skip leading spaces, NULs and invisible characters
	// before reading a formula.
	t := strings.TrimLeftFunc(s, func(r rune) bool {
		return r == 0 || r == ' ' || r == '\u00a0' || r == '\u200b' || r == '\ufeff' || r == '\u3000'
	})
	if t == "" {
		return false
	}
	if t[0] < utf8.RuneSelf {
		return formulaStart[t[0]]
	}
	r, _ := utf8.DecodeRuneInString(t)
	return r == '＝' || r == '＋' || r == '－' || r == '＠' // full-width forms, which some locales read as formulas
}

// formulaStart marks the ASCII bytes that make a cell a formula.
var formulaStart = [utf8.RuneSelf]bool{'=': true, '+': true, '-': true, '@': true, '\t': true, '\r': true, '\n': true}
