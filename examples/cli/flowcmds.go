package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/patient-outreach/sms/flows"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/studio"
)

const flowsUsage = `usage: cli flows <command> [flags]

commands:
  list [--dir DIR]                        the built-in flows, and the flow files (*.json) in DIR
  show NAME|FILE.json                     a flow's steps: kind, body, answer, routes
  validate FILE.json                      check a flow file: every error, by line and field
  export-studio NAME|FILE.json [--out F]  the flow as a Twilio Studio definition (JSON)
  import-studio FILE.json [--out F]       a Twilio Studio definition as a flow file
      [--id ID] [--name NAME]
`

func cmdFlows(ctx context.Context, a *app, args []string) error {
	return dispatch(ctx, a, args, "flows", flowsUsage, []string{"list", "show", "validate", "export-studio", "import-studio"},
		map[string]command{
			"list": cmdFlowsList, "show": cmdFlowsShow, "validate": cmdFlowsValidate,
			"export-studio": cmdFlowsExport, "import-studio": cmdFlowsImport,
		})
}

// dispatch runs the subcommand of group named by args[0]; names lists
// them in the order the usage gives.
func dispatch(ctx context.Context, a *app, args []string, group, usage string, names []string, sub map[string]command) error {
	if len(args) == 0 {
		fmt.Fprint(a.stderr, usage)
		return usageErr("%s needs a command: %s", group, strings.Join(names, ", "))
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(a.stdout, usage)
		return nil
	}
	cmd, ok := sub[args[0]]
	if !ok {
		fmt.Fprint(a.stderr, usage)
		return usageErr("unknown %s command %q", group, args[0])
	}
	return cmd(ctx, a, args[1:])
}

// flowInfo is one flow in flows list.
type flowInfo struct {
	Name        string `json:"name"`
	Source      string `json:"source"` // "built-in" or the file
	ID          string `json:"id,omitempty"`
	Title       string `json:"title,omitempty"`
	Steps       int    `json:"steps"`
	TwoWay      bool   `json:"two_way"`
	Description string `json:"description,omitempty"`
	Error       string `json:"error,omitempty"`
}

func infoOf(name, source string, f *outreach.Flow) flowInfo {
	return flowInfo{Name: name, Source: source, ID: f.ID, Title: f.Name, Steps: len(f.Steps), TwoWay: f.TwoWay(), Description: f.Description}
}

func cmdFlowsList(ctx context.Context, a *app, args []string) error {
	fs := newFlagSet(a, "flows list", "flows list [--dir DIR]")
	dir := fs.String("dir", "", "also list the flow files (*.json) in this directory")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	var list []flowInfo
	for _, n := range flows.BuiltinNames() {
		f, err := flows.Builtin(n)
		if err != nil {
			return err
		}
		list = append(list, infoOf(n, "built-in", f))
	}
	bad := 0
	if *dir != "" {
		files, err := filepath.Glob(filepath.Join(*dir, "*.json"))
		if err != nil {
			return usageErr("--dir: %v", err)
		}
		if _, err := os.Stat(*dir); err != nil {
			return usageErr("--dir: %s: no such directory", *dir)
		}
		for _, file := range files {
			name := strings.TrimSuffix(filepath.Base(file), ".json")
			f, err := flows.LoadFile(file)
			if err != nil {
				bad++
				list = append(list, flowInfo{Name: name, Source: file, Error: err.Error()})
				continue
			}
			list = append(list, infoOf(name, file, f))
		}
	}
	if a.json {
		a.emit(map[string]any{"flows": list})
	} else {
		tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tSOURCE\tSTEPS\tKIND\tDESCRIPTION")
		for _, f := range list {
			if f.Error != "" {
				fmt.Fprintf(tw, "%s\t%s\t-\tinvalid\t%s\n", f.Name, f.Source, f.Error)
				continue
			}
			kind := "one-way"
			if f.TwoWay {
				kind = "two-way"
			}
			desc := f.Title
			if desc == "" {
				desc = f.Description
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", f.Name, f.Source, f.Steps, kind, desc)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if bad > 0 {
		return invalidErr("%d flow files in %s are invalid (see cli flows validate FILE)", bad, *dir)
	}
	return nil
}

func cmdFlowsShow(ctx context.Context, a *app, args []string) error {
	fs := newFlagSet(a, "flows show", "flows show NAME|FILE.json")
	ops, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	f, err := loadFlow(ops[0])
	if err != nil {
		return err
	}
	if a.json {
		a.emit(f)
		return nil
	}
	showFlow(a.stdout, f)
	return nil
}

// showFlow writes a flow's steps readably.
func showFlow(w io.Writer, f *outreach.Flow) {
	kind := "one-way"
	if f.TwoWay() {
		kind = "two-way"
	}
	fmt.Fprintf(w, "flow %s", f.ID)
	if f.Name != "" {
		fmt.Fprintf(w, ": %s", f.Name)
	}
	fmt.Fprintf(w, " (%s, %d steps, starts at %s)\n", kind, len(f.Steps), f.StartStep())
	if f.Description != "" {
		fmt.Fprintf(w, "%s\n", f.Description)
	}
	switch {
	case f.TwoWay() && f.NoOptOutFooter:
		fmt.Fprintln(w, "opt-out footer: off")
	case f.TwoWay():
		fmt.Fprintf(w, "opt-out footer: %q, on the first message unless it mentions STOP\n", f.Footer())
	}
	for i := range f.Steps {
		st := &f.Steps[i]
		fmt.Fprintf(w, "\n%d. %s: %s", i+1, st.ID, st.Kind)
		if st.Kind == outreach.StepBranch {
			fmt.Fprintf(w, " on %s", st.Var)
		}
		fmt.Fprintln(w)
		field := func(name, value string) {
			if value != "" {
				fmt.Fprintf(w, "   %-10s %s\n", name+":", value)
			}
		}
		field("body", oneLine(st.Body))
		if st.Kind == outreach.StepAsk {
			field("answer", st.Answer.Describe())
			if st.Hint != "" {
				field("hint", st.Hint)
			}
		}
		subject := "answer"
		if st.Kind == outreach.StepBranch {
			subject = st.Var
		}
		for _, r := range st.Routes {
			field("route", subject+" "+r.When.Describe()+" -> "+r.Next)
		}
		switch st.Kind {
		case outreach.StepSend, outreach.StepAsk, outreach.StepBranch:
			next := st.Next
			if next == "" {
				next = "(end: completed)"
			}
			if st.Kind == outreach.StepBranch && len(st.Routes) > 0 {
				field("otherwise", next)
			} else {
				field("next", next)
			}
		}
		if st.Kind == outreach.StepAsk {
			timeout := "default"
			if st.Timeout != 0 {
				timeout = time.Duration(st.Timeout).String()
			}
			field("timeout", timeout+" -> "+orEnd(st.OnTimeout, outreach.OutcomeTimeout))
			field("re-asks", fmt.Sprintf("%d, then -> %s", st.Reasks(), orEnd(st.NoAnswer, outreach.OutcomeNoAnswer)))
			if st.OnFailure != "" {
				field("failure", st.OnFailure)
			}
		}
		if st.Kind == outreach.StepEnd {
			field("outcome", orDefault(st.Outcome, outreach.OutcomeCompleted))
		}
	}
}

// oneLine shows a message body on one line: line breaks as \n.
func oneLine(s string) string {
	return strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(s)
}

func orEnd(next, outcome string) string {
	if next == "" {
		return "(end: " + outcome + ")"
	}
	return next
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// flowProblem is one problem of a flow file in flows validate's output.
type flowProblem struct {
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Step    string `json:"step,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (p flowProblem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d, column %d: ", p.Line, p.Column)
	}
	if p.Step != "" {
		b.WriteString("step " + p.Step + ": ")
	}
	if p.Field != "" {
		b.WriteString(p.Field + ": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

func cmdFlowsValidate(ctx context.Context, a *app, args []string) error {
	fs := newFlagSet(a, "flows validate", "flows validate FILE.json")
	ops, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	file := ops[0]
	if _, err := os.Stat(file); err != nil {
		return usageErr("%s: no such file", file)
	}
	f, err := flows.LoadFile(file)
	var problems []flowProblem
	if err != nil {
		var le *flows.LoadError
		var fe *outreach.FlowError
		switch {
		case errors.As(err, &fe):
			for _, p := range fe.Problems {
				problems = append(problems, flowProblem{Step: p.Step, Field: p.Field, Message: p.Message})
			}
		case errors.As(err, &le):
			problems = append(problems, flowProblem{Line: le.Line, Column: le.Column, Field: le.Field, Message: le.Err.Error()})
		default:
			return err
		}
	}
	if a.json {
		doc := map[string]any{"file": file, "valid": err == nil, "errors": problems}
		if f != nil {
			doc["id"], doc["steps"] = f.ID, len(f.Steps)
		}
		a.emit(doc)
	} else {
		for _, p := range problems {
			fmt.Fprintf(a.stdout, "%s: %s\n", file, p)
		}
		if f != nil {
			fmt.Fprintf(a.stdout, "%s: flow %s is valid: %d steps\n", file, f.ID, len(f.Steps))
		}
	}
	if err != nil {
		return invalidErr("%s: %d errors", file, len(problems))
	}
	return nil
}

func cmdFlowsExport(ctx context.Context, a *app, args []string) error {
	fs := newFlagSet(a, "flows export-studio", "flows export-studio NAME|FILE.json [--out FILE]")
	out := fs.String("out", "-", "output file, - for standard output")
	ops, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	f, err := loadFlow(ops[0])
	if err != nil {
		return err
	}
	def, err := studio.FromFlow(f)
	if err != nil {
		return invalidErr("%v", err)
	}
	data, err := def.Encode()
	if err != nil {
		return err
	}
	if err := writeOut(a, *out, data); err != nil {
		return err
	}
	if *out != "-" {
		if a.json {
			a.emit(map[string]any{"flow": f.ID, "out": *out, "states": len(def.States)})
		} else {
			fmt.Fprintf(a.stderr, "wrote the Studio definition of flow %s (%d widgets) to %s\n", f.ID, len(def.States), *out)
		}
	}
	return nil
}

// writeOut writes data, ended by a newline, to the file out or stdout.
func writeOut(a *app, out string, data []byte) error {
	w, closeOut, err := a.output(out)
	if err != nil {
		return err
	}
	if len(data) == 0 || data[len(data)-1] != '\n' {
		data = append(data, '\n')
	}
	if out == "-" || out == "" {
		a.wrote = true
	}
	_, err = w.Write(data)
	if cerr := closeOut(); err == nil {
		err = cerr
	}
	return err
}

// maxDefinition bounds the size of a Studio definition file.
const maxDefinition = 5 << 20

var notID = regexp.MustCompile(`[^a-z0-9_-]+`)

func cmdFlowsImport(ctx context.Context, a *app, args []string) error {
	fs := newFlagSet(a, "flows import-studio", "flows import-studio FILE.json [--out FILE] [--id ID] [--name NAME]")
	out := fs.String("out", "-", "output file, - for standard output")
	id := fs.String("id", "", "the flow's id (default: from the file's name)")
	title := fs.String("name", "", "the flow's name")
	ops, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	file := ops[0]
	fh, err := os.Open(file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return usageErr("%s: no such file", file)
		}
		return err
	}
	data, err := io.ReadAll(io.LimitReader(fh, maxDefinition+1))
	fh.Close()
	if err != nil {
		return err
	}
	if len(data) > maxDefinition {
		return invalidErr("%s: larger than %d bytes: not a Studio definition", file, maxDefinition)
	}
	def, err := studio.Decode(data)
	if err != nil {
		return invalidErr("%s: %v", file, err)
	}
	f, problems, err := studio.Import(def)
	// Every problem, errors and warnings, each naming its widget.
	errs := 0
	for _, p := range problems {
		if p.Severity == studio.Error {
			errs++
		}
		fmt.Fprintf(a.stderr, "%s: %s\n", file, p)
	}
	if err != nil {
		return invalidErr("%s: not imported: %d error(s), %d warning(s)", file, errs, len(problems)-errs)
	}
	f.ID = *id
	if f.ID == "" {
		f.ID = strings.Trim(notID.ReplaceAllString(strings.ToLower(strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))), "_"), "_")
	}
	f.Name = *title
	if err := f.Validate(); err != nil {
		return invalidErr("%s: %v", file, err)
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := writeOut(a, *out, b); err != nil {
		return err
	}
	if *out != "-" {
		if a.json {
			list := make([]map[string]string, len(problems))
			for i, p := range problems {
				list[i] = map[string]string{"severity": p.Severity.String(), "widget": p.Widget, "type": p.Type, "message": p.Message}
			}
			a.emit(map[string]any{"flow": f.ID, "out": *out, "steps": len(f.Steps), "warnings": len(problems), "problems": list})
		} else {
			fmt.Fprintf(a.stderr, "wrote flow %s (%d steps, %d warnings) to %s\n", f.ID, len(f.Steps), len(problems), *out)
		}
	}
	return nil
}
