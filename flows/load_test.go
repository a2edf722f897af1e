package flows

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/patient-outreach/sms/outreach"
)

// TestLoadBadFiles loads each file of testdata/bad and checks the error
// says what is wrong and where. A problem found by validation is matched
// by step id (and substring) among the *outreach.FlowError's problems; a
// decoding problem by its JSON field path, line and substring.
func TestLoadBadFiles(t *testing.T) {
	tests := []struct {
		file string
		// step is the step id of a validation problem ("" for the flow as
		// a whole); used when line is 0.
		step string
		// field and line place a decoding problem.
		field string
		line  int
		want  string
	}{
		// Found by Flow.Validate.
		{file: "missing_target.json", step: "greeting", want: `next: no step "ask_moood"`},
		{file: "unreachable_step.json", step: "reminder", want: "cannot be reached from the start"},
		{file: "loop_no_wait.json", step: "tip", want: "loop with no wait for a reply: tip -> tip_more -> tip"},
		{file: "unknown_variable.json", step: "glad", want: `unknown variable "recipient.last_name"`},
		{file: "answers_not_ask.json", step: "sorry", want: `"answers.greeting" names no ask step`},
		{file: "template_syntax.json", step: "greeting", want: `"{{" is not closed`},
		{file: "empty_body.json", step: "ask_mood", want: "body: the message is empty"},
		{file: "long_body.json", step: "sorry", want: "1620 characters long; the limit is 1600"},
		{file: "duplicate_ids.json", step: "glad", want: "another step has the same id"},
		{file: "route_two_conditions.json", step: "ask_mood", want: "routes[0]: set exactly one of equals, any_of, or min/max"},
		{file: "route_unknown_choice.json", step: "ask_mood", want: `routes[0]: "OKAY" is not one of the answer's choices`},
		{file: "unknown_kind.json", step: "ask_mood", want: `unknown kind "question"`},
		{file: "no_steps.json", step: "", want: "the flow has no steps"},
		{file: "footer_no_stop.json", step: "", want: "opt_out_footer: the footer must tell how to opt out, with the word STOP"},

		// Found while decoding.
		{file: "unknown_field.json", field: "steps[0].nxt", line: 9, want: `unknown field "nxt": did you mean "next"?`},
		{file: "field_case.json", field: "steps[0].Next", line: 9, want: `unknown field "Next": did you mean "next"?`},
		{file: "duplicate_field.json", field: "steps[1].next", line: 26, want: "the field appears twice"},
		{file: "syntax_error.json", line: 33, want: "not valid JSON; remove the comma before this }"},
		{file: "unterminated.json", line: 40, want: "ends in the middle of the flow"},
		{file: "timeout_number.json", field: "steps[1].timeout", line: 26, want: `want a duration in quotes such as "6m" or "1h30m", not 1800`},
		{file: "timeout_unit.json", field: "steps[1].timeout", line: 26, want: `write it like "30m"`},
		{file: "max_reasks_string.json", field: "steps[1].max_reasks", line: 27, want: "want a whole number, not a string"},
		{file: "steps_object.json", field: "steps", line: 3, want: "want a list [...], not an object"},
		{file: "not_object.json", line: 1, want: "want an object {...}, not a list"},
		{file: "trailing_data.json", line: 42, want: "a file holds one flow"},
		{file: "empty.json", want: "the file is empty"},
	}
	listed := map[string]bool{}
	for _, tt := range tests {
		listed[tt.file] = true
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "bad", tt.file)
			f, err := LoadFile(path)
			if err == nil {
				t.Fatalf("LoadFile(%s) = flow %q, nil; want an error", path, f.ID)
			}
			if f != nil {
				t.Errorf("LoadFile returned a flow with its error")
			}
			if !errors.Is(err, outreach.ErrInvalidFlow) {
				t.Errorf("errors.Is(%v, outreach.ErrInvalidFlow) = false", err)
			}
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("error %v is not a *LoadError", err)
			}
			if le.File != path || !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file %s", err, path)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			var fe *outreach.FlowError
			isFlowError := errors.As(err, &fe)
			if tt.line == 0 && tt.want != "the file is empty" {
				if !isFlowError {
					t.Fatalf("error %v is not a *outreach.FlowError", err)
				}
				found := false
				for _, p := range fe.Problems {
					found = found || p.Step == tt.step && strings.Contains(p.String(), tt.want)
				}
				if !found {
					t.Errorf("no problem of step %q contains %q in %v", tt.step, tt.want, fe.Problems)
				}
				return
			}
			if isFlowError {
				t.Errorf("a decoding error is a *outreach.FlowError: %v", err)
			}
			if le.Line != tt.line || le.Field != tt.field {
				t.Errorf("problem at line %d, field %q; want line %d, field %q", le.Line, le.Field, tt.line, tt.field)
			}
			if tt.line > 0 && le.Column < 1 {
				t.Errorf("column %d; want a column", le.Column)
			}
		})
	}
	files, err := filepath.Glob(filepath.Join("testdata", "bad", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !listed[filepath.Base(f)] {
			t.Errorf("%s has no row in this test", f)
		}
	}
}

func TestLoadGoodFile(t *testing.T) {
	f, err := LoadFile(filepath.Join("testdata", "checkin.json"))
	if err != nil {
		t.Fatal(err)
	}
	if f.ID != "checkin" || len(f.Steps) != 4 || f.StepByID("ask_mood").Answer.Choices[0].Synonyms[1] != "FINE" {
		t.Errorf("LoadFile(checkin.json) = %+v; want the flow in the file", f)
	}
}

func TestLoad(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("testdata", "checkin.json"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   io.Reader
		want string // a substring of the error; "" for success
	}{
		{"good", bytes.NewReader(good), ""},
		{"byte order mark", strings.NewReader("\ufeff" + string(good)), ""},
		{"spaces around", strings.NewReader("\n\n" + string(good) + "\n\n"), ""},
		{"only spaces", strings.NewReader(" \n\t "), "the file is empty"},
		{"over the size limit", io.MultiReader(bytes.NewReader(good), strings.NewReader(strings.Repeat(" ", MaxFileSize))), "larger than 1048576 bytes"},
		{"null", strings.NewReader("null"), "the flow has no id"},
		{"a string", strings.NewReader(`"provider"`), `want an object {...}, not the string "provider"`},
		{"read error", iotest.ErrReader(errors.New("disk on fire")), "disk on fire"},
		{"error position without a file", strings.NewReader("{\n  \"id\": \"x\",\n  \"stepz\": []\n}"), `line 3, column 3: stepz: unknown field "stepz": did you mean "steps"?`},
		{"far from any field", strings.NewReader(`{"id": "x", "color": "red"}`), `unknown field "color": the fields here are id, name, description, start, steps`},
		{"choice field", strings.NewReader(`{"id":"x","steps":[{"id":"a","kind":"ask","body":"?","answer":{"kind":"choice","choices":[{"value":"YES","synonym":["Y"]}]}}]}`), `steps[0].answer.choices[0].synonym: unknown field "synonym": did you mean "synonyms"?`},
		{"route field", strings.NewReader(`{"id":"x","steps":[{"id":"a","kind":"ask","body":"?","routes":[{"when":{"equal":"YES"},"next":"a"}]}]}`), `steps[0].routes[0].when.equal: unknown field "equal": did you mean "equals"?`},
		{"number too large", strings.NewReader(`{"id":"x","steps":[{"id":"a","kind":"ask","body":"?","max_reasks":1e99}]}`), "steps[0].max_reasks: want a whole number, not the number 1e99"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Load(tt.in)
			if tt.want == "" {
				if err != nil || f == nil || f.ID != "checkin" {
					t.Fatalf("Load = %v, %v; want the checkin flow", f, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load error = %v; want one containing %q", err, tt.want)
			}
			if f != nil {
				t.Errorf("Load returned a flow with its error")
			}
		})
	}
}

func TestLoadErrorKinds(t *testing.T) {
	// Reading problems are not flow problems, and keep their cause.
	_, err := LoadFile(filepath.Join("testdata", "no-such-file.json"))
	if !errors.Is(err, fs.ErrNotExist) || errors.Is(err, outreach.ErrInvalidFlow) || !strings.Contains(err.Error(), "no-such-file.json") {
		t.Errorf("LoadFile(missing) = %v; want fs.ErrNotExist naming the file, not ErrInvalidFlow", err)
	}
	_, err = LoadFile("testdata")
	if err == nil || errors.Is(err, outreach.ErrInvalidFlow) || !strings.Contains(err.Error(), "testdata") {
		t.Errorf("LoadFile(directory) = %v; want a read error naming it", err)
	}
	_, err = Load(iotest.ErrReader(io.ErrClosedPipe))
	if !errors.Is(err, io.ErrClosedPipe) || errors.Is(err, outreach.ErrInvalidFlow) {
		t.Errorf("Load(failing reader) = %v; want the reader's error", err)
	}
}

// FuzzLoad checks that Load never panics, and that a flow it accepts is
// valid and loads again the same after encoding.
func FuzzLoad(f *testing.F) {
	for _, pattern := range []string{"testdata/*.json", "testdata/bad/*.json", "builtin/*.json"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			if !strings.HasSuffix(file, "_cases.json") {
				f.Add(data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		flow, err := Load(bytes.NewReader(data))
		if err != nil {
			if flow != nil {
				t.Fatal("a flow returned with an error")
			}
			if !errors.Is(err, outreach.ErrInvalidFlow) {
				t.Fatalf("error %v does not match ErrInvalidFlow", err)
			}
			return
		}
		if err := flow.Validate(); err != nil {
			t.Fatalf("Load accepted an invalid flow: %v", err)
		}
		again, err := Load(bytes.NewReader(marshal(t, flow)))
		if err != nil {
			t.Fatalf("the flow does not load again after encoding: %v", err)
		}
		if !bytes.Equal(marshal(t, again), marshal(t, flow)) {
			t.Fatal("the flow changed on a second load")
		}
	})
}
