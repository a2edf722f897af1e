package fhirio

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/patient-outreach/sms/csvio"
	"github.com/patient-outreach/sms/fhirio/internal/zipzone"
	"github.com/patient-outreach/sms/outreach"
)

// Reasons a patient is not a recipient, beside csvio's (ErrEmptyID,
// ErrDuplicateID, ErrMissingPhone, ErrInvalidPhone). A [*csvio.RowError]
// matches one of them with [errors.Is].
var (
	ErrDeceased   = errors.New("the patient is deceased: never messaged")
	ErrInactive   = errors.New("the patient record is not active: never messaged")
	ErrNotPatient = errors.New("the resource is not a Patient")
	ErrBadJSON    = errors.New("the resource is not valid FHIR JSON")
)

// Options says how patients become recipients.
type Options struct {
	// IDSystem is the system of the identifier whose value is the
	// recipient's ID (the MRN, such as "http://hospital.example.org/mrn");
	// empty: the resource id.
	IDSystem string
	// Region is the country of phone numbers written without +; empty
	// means "US".
	Region string
	// Now is when telecom and address periods are judged: one that ended
	// before it is skipped. It must be set (the caller's clock).
	Now time.Time
	// Fields map Recipient.Attrs keys (templates read them as
	// {{data.KEY}}) to where their values are: "extension:URL" (the
	// value of the patient's extension with that URL) or
	// "identifier:SYSTEM" (the value of the identifier with that system).
	Fields map[string]string
	// MaxLineLen limits an NDJSON line; zero means 1 MiB.
	MaxLineLen int
}

func (o Options) region() string {
	if o.Region == "" {
		return "US"
	}
	return o.Region
}

// PatientReader reads patients from Bulk Data NDJSON, one resource a
// line, without holding the file in memory. Call Next until io.EOF.
type PatientReader struct {
	opts Options
	br   *bufio.Reader
	line int
	seen map[string]bool
	err  error
}

// NewNDJSONReader returns a reader of the NDJSON file r. It fails when
// an option is invalid (Now unset, a field source of an unknown kind).
func NewNDJSONReader(r io.Reader, opts Options) (*PatientReader, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	if opts.MaxLineLen == 0 {
		opts.MaxLineLen = 1 << 20
	}
	return &PatientReader{opts: opts, br: bufio.NewReaderSize(r, 64<<10), seen: map[string]bool{}}, nil
}

func (o Options) check() error {
	if o.Now.IsZero() {
		return errors.New("fhirio: Options.Now is not set: periods are judged against it")
	}
	for k, src := range o.Fields {
		kind, _, _ := strings.Cut(src, ":")
		if kind != "extension" && kind != "identifier" {
			return fmt.Errorf("fhirio: field %q: source %q: write extension:URL or identifier:SYSTEM", k, src)
		}
	}
	return nil
}

// Next returns the next patient's row; blank lines are skipped. It
// returns io.EOF at the end, and an error (a line too long, a read
// error) after which the file should be refused as a whole.
func (pr *PatientReader) Next() (csvio.Row, error) {
	for pr.err == nil {
		line, err := pr.readLine()
		if err != nil {
			pr.err = err
			break
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		row, isPatient, id := readPatient(line, pr.opts, pr.seen, pr.line)
		if !isPatient {
			row.Errors = append(row.Errors, &csvio.RowError{Line: pr.line, Resource: id, Column: "resourceType", Err: ErrNotPatient})
		}
		return row, nil
	}
	return csvio.Row{}, pr.err
}

// readLine returns the next line, without its end.
func (pr *PatientReader) readLine() ([]byte, error) {
	var buf []byte
	for {
		part, err := pr.br.ReadSlice('\n')
		buf = append(buf, part...)
		if len(buf) > pr.opts.MaxLineLen {
			return nil, fmt.Errorf("fhirio: line %d is longer than %d bytes", pr.line+1, pr.opts.MaxLineLen)
		}
		switch {
		case err == nil:
			pr.line++
			return bytes.TrimRight(buf, "\r\n"), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(buf) > 0:
			pr.line++
			return buf, nil
		default:
			return nil, err
		}
	}
}

// Bundle is a FHIR Bundle read by [ReadBundle].
type Bundle struct {
	// Type is the Bundle's type: searchset, collection, transaction, ...
	Type string
	// Rows are its Patient entries, in order (Line is the entry's index
	// from 1).
	Rows []csvio.Row
	// Next is the URL of the next page of a searchset (its link with
	// relation next), empty on the last page.
	Next string
	// Skipped counts the entries that are not Patients (a search's
	// included resources).
	Skipped int
}

// ReadBundle reads a Bundle of patients (searchset, collection,
// transaction or batch), at most maxBytes of it (zero: 64 MiB). seen
// holds the recipient IDs of earlier pages, to report duplicates across
// them; it may be nil.
func ReadBundle(r io.Reader, opts Options, seen map[string]bool, maxBytes int64) (*Bundle, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	if maxBytes <= 0 {
		maxBytes = 64 << 20
	}
	data, err := io.ReadAll(io.LimitReader(r, maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("fhirio: read bundle: %w", err)
	}
	if int64(len(data)) > maxBytes {
		return nil, fmt.Errorf("fhirio: the bundle is larger than %d bytes", maxBytes)
	}
	var head struct {
		ResourceType string `json:"resourceType"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("fhirio: bundle: %w: %v", ErrBadJSON, err)
	}
	if head.ResourceType != "Bundle" {
		return nil, fmt.Errorf("fhirio: the resource is a %q, not a Bundle", head.ResourceType)
	}
	var b fhir.Bundle
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("fhirio: bundle: %w: %v", ErrBadJSON, err)
	}
	if seen == nil {
		seen = map[string]bool{}
	}
	out := &Bundle{Type: b.Type.Code()}
	for _, l := range b.Link {
		if l.Relation == "next" {
			out.Next = l.Url
		}
	}
	for i, e := range b.Entry {
		if len(e.Resource) == 0 {
			out.Skipped++
			continue
		}
		row, isPatient, _ := readPatient(e.Resource, opts, seen, i+1)
		if !isPatient {
			out.Skipped++
			continue
		}
		out.Rows = append(out.Rows, row)
	}
	return out, nil
}

// readPatient maps one resource, at line (of an NDJSON file, or the
// entry's index in a Bundle); isPatient is false when it is of another
// type (the row is then empty), and id the resource's id. Errors name
// elements from Patient.
func readPatient(data []byte, opts Options, seen map[string]bool, line int) (row csvio.Row, isPatient bool, id string) {
	const root = "Patient"
	row.Line = line
	var head struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
	}
	fail := func(path string, err error) {
		row.Errors = append(row.Errors, &csvio.RowError{Line: line, Resource: head.ID, Column: path, Err: err})
	}
	// One decoding for a Patient that decodes; anything else is read
	// again, its type first, to say what it is and where it fails.
	var doc struct {
		ResourceType string `json:"resourceType"`
		fhir.Patient
	}
	p := &doc.Patient
	if err := json.Unmarshal(data, &doc); err == nil && doc.ResourceType == "Patient" {
		head.ResourceType, head.ID = doc.ResourceType, deref(doc.Id)
	} else {
		if err := json.Unmarshal(data, &head); err != nil {
			fail("", fmt.Errorf("%w: %v", ErrBadJSON, jsonProblem(err)))
			return row, true, ""
		}
		if head.ResourceType != "Patient" {
			return row, false, head.ID
		}
		p = &fhir.Patient{}
		if err := json.Unmarshal(data, p); err != nil {
			var te *json.UnmarshalTypeError
			path := ""
			if errors.As(err, &te) && te.Field != "" {
				path = root + "." + te.Field
			}
			fail(path, fmt.Errorf("%w: %v", ErrBadJSON, jsonProblem(err)))
			return row, true, head.ID
		}
	}
	m := mapper{p: p, opts: opts, root: root, fail: fail, warn: func(path string, err error) {
		row.Warnings = append(row.Warnings, &csvio.RowError{Line: line, Resource: head.ID, Column: path, Err: err})
	}}
	row.Recipient = m.recipient()
	if row.Recipient.ID != "" && len(row.Errors) == 0 {
		if seen[row.Recipient.ID] {
			fail(m.idPath, csvio.ErrDuplicateID)
		} else {
			seen[strings.Clone(row.Recipient.ID)] = true
		}
	}
	return row, true, head.ID
}

// jsonProblem describes a JSON error without the values of the file.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return "a " + te.Value + " where " + te.Type.String() + " is expected"
	case errors.As(err, &se):
		return "syntax error at byte " + strconv.FormatInt(se.Offset, 10)
	}
	msg := err.Error()
	if strings.HasPrefix(msg, "unknown ") && strings.Contains(msg, " code ") {
		kind, _, _ := strings.Cut(strings.TrimPrefix(msg, "unknown "), " code")
		return "a code that is not one of " + kind + "'s"
	}
	return "the resource does not decode"
}

// mapper maps one Patient.
type mapper struct {
	p          *fhir.Patient
	opts       Options
	root       string
	idPath     string
	fail, warn func(path string, err error)
}

func (m *mapper) recipient() outreach.Recipient {
	p := m.p
	var r outreach.Recipient
	if p.DeceasedBoolean != nil && *p.DeceasedBoolean {
		m.fail(m.root+".deceasedBoolean", ErrDeceased)
	}
	if p.DeceasedDateTime != nil {
		m.fail(m.root+".deceasedDateTime", ErrDeceased)
	}
	if p.Active != nil && !*p.Active {
		m.fail(m.root+".active", ErrInactive)
	}
	r.ID, m.idPath = m.id()
	if r.ID == "" {
		m.fail(m.idPath, csvio.ErrEmptyID)
	}
	r.FirstName = m.firstName()
	if r.FirstName == "" {
		m.warn(m.root+".name", csvio.ErrMissingFirstName)
	}
	r.Phone = m.phone()
	if r.Phone != "" {
		if zones := outreach.PhoneZones(r.Phone); len(zones) == 0 || len(zones) > outreach.MaxZones {
			r.TimeZone = m.addressZone()
		}
	}
	r.Attrs = m.attrs()
	return r
}

func (m *mapper) id() (string, string) {
	if m.opts.IDSystem == "" {
		return deref(m.p.Id), m.root + ".id"
	}
	for i, id := range m.p.Identifier {
		if deref(id.System) == m.opts.IDSystem {
			return strings.TrimSpace(deref(id.Value)), fmt.Sprintf("%s.identifier[%d].value", m.root, i)
		}
	}
	return "", m.root + ".identifier"
}

func (m *mapper) firstName() string {
	for _, use := range []fhir.NameUse{fhir.NameUseOfficial, fhir.NameUseUsual} {
		for _, n := range m.p.Name {
			if n.Use != nil && *n.Use == use && len(n.Given) > 0 && !m.ended(n.Period) {
				return strings.TrimSpace(n.Given[0])
			}
		}
	}
	return ""
}

// ended reports whether a period ended before Options.Now.
func (m *mapper) ended(p *fhir.Period) bool {
	if p == nil || p.End == nil {
		return false
	}
	end, ok := parseFHIRTime(*p.End)
	return ok && end.Before(m.opts.Now)
}

// phone returns the recipient's phone in E.164 form (see the mapping),
// failing the row when there is none.
func (m *mapper) phone() string {
	type candidate struct {
		index, rank int
		sms         bool
	}
	var cands []candidate
	for i, t := range m.p.Telecom {
		if t.System == nil || t.Value == nil || m.ended(t.Period) || t.Use != nil && *t.Use == fhir.ContactPointUseOld {
			continue
		}
		sms := *t.System == fhir.ContactPointSystemSms
		mobile := *t.System == fhir.ContactPointSystemPhone && t.Use != nil && *t.Use == fhir.ContactPointUseMobile
		if !sms && !mobile {
			continue
		}
		rank := int(^uint(0) >> 1)
		if t.Rank != nil && *t.Rank > 0 {
			rank = *t.Rank
		}
		cands = append(cands, candidate{i, rank, sms})
	}
	slices.SortStableFunc(cands, func(a, b candidate) int {
		if a.sms != b.sms {
			if a.sms {
				return -1
			}
			return 1
		}
		return a.rank - b.rank
	})
	var firstErr error
	firstPath := ""
	for _, c := range cands {
		e164, err := outreach.NormalizePhone(*m.p.Telecom[c.index].Value, m.opts.region())
		if err == nil {
			return e164
		}
		if firstErr == nil {
			firstErr, firstPath = err, fmt.Sprintf("%s.telecom[%d].value", m.root, c.index)
		}
	}
	if firstErr != nil {
		m.fail(firstPath, fmt.Errorf("%w: %w", csvio.ErrInvalidPhone, firstErr))
	} else {
		m.fail(m.root+".telecom", csvio.ErrMissingPhone)
	}
	return ""
}

// addressZone returns the zone of the home address, else of the first
// current address: its state's, when the state lies in one zone, else
// its ZIP code's (zipzone), when the address is in the US.
func (m *mapper) addressZone() string {
	var pick *fhir.Address
	for i := range m.p.Address {
		a := &m.p.Address[i]
		if m.ended(a.Period) || a.Use != nil && *a.Use == fhir.AddressUseOld {
			continue
		}
		if pick == nil || a.Use != nil && *a.Use == fhir.AddressUseHome && (pick.Use == nil || *pick.Use != fhir.AddressUseHome) {
			pick = a
		}
	}
	if pick == nil {
		return ""
	}
	if pick.State != nil {
		if z, ok := stateZones[strings.ToUpper(strings.TrimSpace(*pick.State))]; ok {
			return z
		}
	}
	if pick.PostalCode == nil || pick.Country != nil && !usCountry(*pick.Country) {
		return ""
	}
	return zipzone.Of(strings.TrimSpace(*pick.PostalCode))
}

// usCountry reports whether an address's country is the United States,
// as FHIR addresses write it (ISO 3166 codes, or the name).
func usCountry(c string) bool {
	switch strings.ToUpper(strings.TrimSpace(c)) {
	case "US", "USA", "840", "UNITED STATES", "UNITED STATES OF AMERICA":
		return true
	}
	return false
}

func (m *mapper) attrs() map[string]string {
	attrs := map[string]string{}
	for _, c := range m.p.Communication {
		if c.Preferred != nil && *c.Preferred {
			lang := deref(c.Language.Text)
			if len(c.Language.Coding) > 0 && c.Language.Coding[0].Code != nil {
				lang = *c.Language.Coding[0].Code
			}
			if lang != "" {
				attrs["language"] = lang
			}
			break
		}
	}
	for key, src := range m.opts.Fields {
		kind, where, _ := strings.Cut(src, ":")
		switch kind {
		case "extension":
			for _, e := range m.p.Extension {
				if e.Url == where {
					if v, ok := extensionValue(e); ok {
						attrs[key] = v
					}
					break
				}
			}
		case "identifier":
			for _, id := range m.p.Identifier {
				if deref(id.System) == where && id.Value != nil {
					attrs[key] = *id.Value
					break
				}
			}
		}
	}
	if len(attrs) == 0 {
		return nil
	}
	return attrs
}

// extensionValue returns an extension's value as text, for the value
// types a field can hold.
func extensionValue(e fhir.Extension) (string, bool) {
	switch {
	case e.ValueString != nil:
		return *e.ValueString, true
	case e.ValueCode != nil:
		return *e.ValueCode, true
	case e.ValueBoolean != nil:
		return strconv.FormatBool(*e.ValueBoolean), true
	case e.ValueInteger != nil:
		return strconv.Itoa(*e.ValueInteger), true
	case e.ValueDecimal != nil:
		return e.ValueDecimal.String(), true
	case e.ValueDate != nil:
		return *e.ValueDate, true
	case e.ValueDateTime != nil:
		return *e.ValueDateTime, true
	case e.ValueCoding != nil && e.ValueCoding.Code != nil:
		return *e.ValueCoding.Code, true
	case e.ValueCodeableConcept != nil && len(e.ValueCodeableConcept.Coding) > 0 && e.ValueCodeableConcept.Coding[0].Code != nil:
		return *e.ValueCodeableConcept.Coding[0].Code, true
	}
	return "", false
}

// parseFHIRTime reads a FHIR date or dateTime (YYYY, YYYY-MM, YYYY-MM-DD
// or a full RFC 3339 time). A partial date ends at the end of its span,
// so a period that ends "2024-05" has ended only once May 2024 has.
func parseFHIRTime(s string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, true
	}
	for _, f := range []struct {
		layout string
		span   func(time.Time) time.Time
	}{
		{"2006-01-02", func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }},
		{"2006-01", func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }},
		{"2006", func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }},
	} {
		if t, err := time.Parse(f.layout, s); err == nil {
			return f.span(t), true
		}
	}
	return time.Time{}, false
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// stateZones are the zones of the US states and territories that lie in
// one zone (USPS codes). States that span zones (AK, FL, ID, IN, KS, KY,
// MI, ND, NE, OR, SD, TN, TX) are left out: their addresses' ZIP codes
// tell their zone.
var stateZones = map[string]string{
	"AL": "America/Chicago", "AZ": "America/Phoenix", "AR": "America/Chicago", "CA": "America/Los_Angeles",
	"CO": "America/Denver", "CT": "America/New_York", "DE": "America/New_York", "DC": "America/New_York",
	"GA": "America/New_York", "HI": "Pacific/Honolulu", "IL": "America/Chicago", "IA": "America/Chicago",
	"LA": "America/Chicago", "ME": "America/New_York", "MD": "America/New_York", "MA": "America/New_York",
	"MN": "America/Chicago", "MS": "America/Chicago", "MO": "America/Chicago", "MT": "America/Denver",
	"NV": "America/Los_Angeles", "NH": "America/New_York", "NJ": "America/New_York", "NM": "America/Denver",
	"NY": "America/New_York", "NC": "America/New_York", "OH": "America/New_York", "OK": "America/Chicago",
	"PA": "America/New_York", "RI": "America/New_York", "SC": "America/New_York", "UT": "America/Denver",
	"VT": "America/New_York", "VA": "America/New_York", "WA": "America/Los_Angeles", "WV": "America/New_York",
	"WI": "America/Chicago", "WY": "America/Denver",
	"PR": "America/Puerto_Rico", "VI": "America/St_Thomas", "GU": "Pacific/Guam", "AS": "Pacific/Pago_Pago", "MP": "Pacific/Saipan",
}

// NewReader returns a reader of a patients file, NDJSON or a Bundle
// (told apart by its first resource), whose rows are those ReadAll
// collects: NDJSON is read a line at a time, as [NewNDJSONReader] does; a
// Bundle is decoded whole (and its next page not fetched). The error is
// one that refuses the file as a whole (it does not decode, an option is
// invalid).
func NewReader(r io.Reader, opts Options) (csvio.RowReader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	dec := json.NewDecoder(br)
	var first json.RawMessage
	if err := dec.Decode(&first); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("fhirio: the file is empty")
		}
		return nil, fmt.Errorf("fhirio: %w: %v", ErrBadJSON, jsonProblem(err))
	}
	var head struct {
		ResourceType string `json:"resourceType"`
	}
	_ = json.Unmarshal(first, &head)
	if head.ResourceType == "Bundle" {
		if err := opts.check(); err != nil {
			return nil, err
		}
		b, err := ReadBundle(bytes.NewReader(first), opts, nil, 0)
		if err != nil {
			return nil, err
		}
		return &bundleRows{rows: b.Rows}, nil
	}
	// NDJSON: the first resource, then the rest as the decoder left it.
	return NewNDJSONReader(io.MultiReader(bytes.NewReader(first), dec.Buffered(), br), opts)
}

// bundleRows reads the rows of a decoded Bundle.
type bundleRows struct{ rows []csvio.Row }

func (b *bundleRows) Next() (csvio.Row, error) {
	if len(b.rows) == 0 {
		return csvio.Row{}, io.EOF
	}
	row := b.rows[0]
	b.rows = b.rows[1:]
	return row, nil
}

// ReadAll reads a whole patients file, NDJSON or a Bundle (told apart by
// its first resource), into the same Result as csvio.ReadAll: every
// Patient ends up either in Recipients or with its errors in Errors. A
// Bundle's next page is not fetched: Result holds its first page. The
// error is one that refuses the file as a whole (it does not decode, a
// line is too long, ctx is done).
func ReadAll(ctx context.Context, r io.Reader, opts Options) (csvio.Result, error) {
	var res csvio.Result
	rr, err := NewReader(r, opts)
	if err != nil {
		return res, err
	}
	err = csvio.EachRow(ctx, rr, func(row csvio.Row) error {
		res.Add(row)
		return nil
	})
	return res, err
}
