package flows

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/patient-outreach/sms/outreach"
)

// MaxFileSize is the size of the largest flow file [Load] and [LoadFile]
// accept: 1 MiB, far more than a flow of a few hundred steps needs.
const MaxFileSize = 1 << 20

// LoadError reports a flow file that is not a valid flow: too large, not
// JSON, a field that is unknown, repeated or of the wrong type, or a flow
// that fails [outreach.Flow.Validate]. It matches [outreach.ErrInvalidFlow]
// with [errors.Is]; when validation failed, [errors.As] also finds the
// [*outreach.FlowError] with every problem.
type LoadError struct {
	// File is the file's name; empty for [Load].
	File string
	// Line and Column locate a JSON problem, counting from 1 (Column in
	// characters). Both are 0 for problems with no place, such as those
	// found by validation.
	Line, Column int
	// Field is the JSON path of the field at fault, such as
	// "steps[2].timeout"; empty when not known.
	Field string
	// Err is the problem.
	Err error
}

func (e *LoadError) Error() string {
	var b strings.Builder
	b.WriteString("flows: ")
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d:%d: ", e.File, e.Line, e.Column)
	case e.File != "":
		b.WriteString(e.File + ": ")
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d, column %d: ", e.Line, e.Column)
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns e.Err.
func (e *LoadError) Unwrap() error { return e.Err }

// Is reports whether target is [outreach.ErrInvalidFlow].
func (e *LoadError) Is(target error) bool { return target == outreach.ErrInvalidFlow }

// LoadFile reads a flow from a JSON file (see [Load]). Errors name the file.
func LoadFile(path string) (*outreach.Flow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("flows: %w", err)
	}
	defer f.Close()
	return decode(f, path)
}

// Load reads a flow in the JSON format of [outreach.Flow] from r and
// validates it. Decoding is strict: the input must be a single JSON object
// of at most [MaxFileSize] bytes, with no unknown, misspelt or repeated
// field and every value of its field's type. A bad flow gives a
// [*LoadError] that says where the problem is; an error reading r is
// returned as it is, wrapped.
func Load(r io.Reader) (*outreach.Flow, error) {
	return decode(r, "")
}

func decode(r io.Reader, file string) (*outreach.Flow, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		if file != "" {
			return nil, fmt.Errorf("flows: reading %s: %w", file, err)
		}
		return nil, fmt.Errorf("flows: reading flow: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, &LoadError{File: file, Err: fmt.Errorf("the file is larger than %d bytes, the limit for a flow", MaxFileSize)}
	}
	data = bytes.TrimPrefix(data, []byte("\ufeff")) // a byte order mark, as some editors save
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &LoadError{File: file, Err: errors.New("the file is empty: a flow is a JSON object with an id and steps")}
	}

	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f outreach.Flow
	err = dec.Decode(&f)
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		off := min(max(syntax.Offset-1, 0), int64(len(data)-1)) // Offset counts the bad byte
		msg := syntax.Error() + ": the file is not valid JSON"
		if c := data[off]; (c == '}' || c == ']') && bytes.HasSuffix(bytes.TrimRight(data[:off], " \t\r\n"), []byte(",")) {
			msg += "; remove the comma before this " + string(c)
		}
		return nil, placed(file, data, off, "", errors.New(msg))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return nil, placed(file, data, int64(len(data)), "", errors.New("the file ends in the middle of the flow: look for a missing } or ]"))
	}
	// The decoder does not say where an unknown field is, lets a field
	// appear twice, and reports some type errors with no field: find the
	// first such problem and its place.
	if p := locate(data, reflect.TypeFor[outreach.Flow]()); p != nil {
		return nil, placed(file, data, p.offset, p.path, errors.New(p.msg))
	}
	if err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			return nil, placed(file, data, typ.Offset, typ.Field, err)
		}
		return nil, &LoadError{File: file, Err: err}
	}
	if off := dec.InputOffset(); len(bytes.TrimSpace(data[off:])) > 0 {
		off += int64(len(data[off:]) - len(bytes.TrimLeft(data[off:], " \t\r\n")))
		return nil, placed(file, data, off, "", errors.New("unexpected text after the end of the flow: a file holds one flow"))
	}
	if err := f.Validate(); err != nil {
		return nil, &LoadError{File: file, Err: err}
	}
	return &f, nil
}

// placed returns a *LoadError at byte offset off of data.
func placed(file string, data []byte, off int64, field string, err error) *LoadError {
	off = min(max(off, 0), int64(len(data)))
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := utf8.RuneCount(before[bytes.LastIndexByte(before, '\n')+1:]) + 1
	return &LoadError{File: file, Line: line, Column: col, Field: field, Err: err}
}

// problem is a field-level problem found by locate.
type problem struct {
	path   string
	offset int64
	msg    string
}

var (
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	durationType    = reflect.TypeFor[outreach.Duration]()
)

// locate reads data as a value of type t the way encoding/json does and
// returns its first unknown, repeated or mistyped field, with the field's
// JSON path and byte offset. It returns nil for syntax errors, which the
// decoder reports.
func locate(data []byte, t reflect.Type) *problem {
	w := &walker{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	p, _ := w.value(t, "")
	return p
}

type walker struct {
	data []byte
	dec  *json.Decoder
}

// next returns the offset of the next token, after any spaces, ':' or ','.
func (w *walker) next() int64 {
	off := w.dec.InputOffset()
	for off < int64(len(w.data)) && strings.IndexByte(" \t\r\n:,", w.data[off]) >= 0 {
		off++
	}
	return off
}

// value reads the next JSON value, which should decode into t at path.
func (w *walker) value(t reflect.Type, path string) (*problem, error) {
	start := w.next()
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) || (t.Kind() != reflect.Struct && t.Kind() != reflect.Slice) {
		var raw json.RawMessage
		if err := w.dec.Decode(&raw); err != nil {
			return nil, err
		}
		if t == durationType && len(raw) > 0 && raw[0] != '"' && string(raw) != "null" {
			return &problem{path, start, fmt.Sprintf("want a duration in quotes such as \"6m\" or \"1h30m\", not %s", raw)}, nil
		}
		if err := json.Unmarshal(raw, reflect.New(t).Interface()); err != nil {
			msg := typeMessage(t, err)
			if t == durationType {
				msg += `: write it like "30m", "1h" or "1h30m"`
			}
			return &problem{path, start, msg}, nil
		}
		return nil, nil
	}
	tok, err := w.dec.Token()
	if err != nil || tok == nil { // null leaves the field as it is
		return nil, err
	}
	switch t.Kind() {
	case reflect.Struct:
		if tok != json.Delim('{') {
			return &problem{path, start, fmt.Sprintf("want an object {...}, not %s", describe(tok))}, nil
		}
		fields, names := jsonFields(t)
		seen := map[string]bool{}
		for w.dec.More() {
			keyOff := w.next()
			tok, err := w.dec.Token()
			if err != nil {
				return nil, err
			}
			key, _ := tok.(string)
			fpath := key
			if path != "" {
				fpath = path + "." + key
			}
			ft, ok := fields[key]
			if !ok {
				return &problem{fpath, keyOff, unknownField(key, names)}, nil
			}
			if seen[key] {
				return &problem{fpath, keyOff, "the field appears twice: keep one"}, nil
			}
			seen[key] = true
			if p, err := w.value(ft, fpath); p != nil || err != nil {
				return p, err
			}
		}
	default: // slice
		if tok != json.Delim('[') {
			return &problem{path, start, fmt.Sprintf("want a list [...], not %s", describe(tok))}, nil
		}
		for i := 0; w.dec.More(); i++ {
			if p, err := w.value(t.Elem(), fmt.Sprintf("%s[%d]", path, i)); p != nil || err != nil {
				return p, err
			}
		}
	}
	_, err = w.dec.Token() // the closing } or ]
	return nil, err
}

// jsonFields returns the JSON names of t's fields with their types, and
// the names in order.
func jsonFields(t reflect.Type) (map[string]reflect.Type, []string) {
	fields := map[string]reflect.Type{}
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = f.Type
		names = append(names, name)
	}
	return fields, names
}

func unknownField(key string, names []string) string {
	msg := fmt.Sprintf("unknown field %q", key)
	best, bestDist := "", 3
	for _, n := range names {
		d := distance(strings.ToLower(key), n)
		if d < bestDist && (d <= 1 || len(key) >= 6) {
			best, bestDist = n, d
		}
	}
	if best != "" {
		return msg + fmt.Sprintf(": did you mean %q?", best)
	}
	return msg + ": the fields here are " + strings.Join(names, ", ")
}

// distance is the Levenshtein distance between a and b, in bytes.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// typeMessage explains a value that does not decode into t.
func typeMessage(t reflect.Type, err error) string {
	var typ *json.UnmarshalTypeError
	if reflect.PointerTo(t).Implements(unmarshalerType) || !errors.As(err, &typ) {
		return err.Error() // from an UnmarshalJSON method
	}
	var want string
	switch t.Kind() {
	case reflect.String:
		want = "a string in quotes"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		want = "a whole number"
	case reflect.Float32, reflect.Float64:
		want = "a number"
	case reflect.Bool:
		want = "true or false"
	default:
		want = "a " + t.String()
	}
	got := "a " + typ.Value
	switch {
	case strings.HasPrefix(typ.Value, "number "):
		got = "the " + typ.Value
	case typ.Value == "array":
		got = "a list"
	case typ.Value == "object":
		got = "an object"
	case typ.Value == "bool":
		got = "true or false"
	}
	return fmt.Sprintf("want %s, not %s", want, got)
}

// describe names a JSON token for an error message.
func describe(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		if v == '{' {
			return "an object"
		}
		return "a list"
	case string:
		return fmt.Sprintf("the string %q", v)
	case float64:
		return fmt.Sprintf("the number %v", v)
	case bool:
		return fmt.Sprintf("%v", v)
	}
	return fmt.Sprint(tok)
}
