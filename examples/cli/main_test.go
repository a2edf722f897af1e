package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/patient-outreach/sms/flows"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/simphone"
	"github.com/patient-outreach/sms/outreach/sqlitestore"
	"github.com/patient-outreach/sms/outreach/twiliotest"
	"github.com/patient-outreach/sms/studio"
	"github.com/patient-outreach/sms/studio/studiotest"
)

// The tests run the real program, built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "cli")
	// The go command that runs this test, else the one on PATH.
	gobin := "go"
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); fileExists(p) {
			gobin = p
		}
	}
	// Without -race: the race detector makes SQLite several times slower. The
	// program's goroutines run under it in TestRunInProcess.
	if out, err := exec.Command(gobin, "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the cli: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

const sample = "../../flows/testdata/sample_recipients.csv"

// result is what a run of the program gave.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// cleanEnv is the test process's environment without any Twilio setting,
// plus extra.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "TWILIO_") || k == "ACCOUNT_SID" || k == "AUTH_TOKEN" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

func newCmd(dir string, env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = cleanEnv(env...)
	return cmd
}

// cli runs the program in dir with args.
func cli(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := newCmd(dir, env, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("running %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

func abs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func writeFile(t *testing.T, path, data string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// jsonDoc parses the one JSON document of s.
func jsonDoc(t *testing.T, s string) map[string]any {
	t.Helper()
	var v map[string]any
	dec := json.NewDecoder(strings.NewReader(s))
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, s)
	}
	if dec.More() {
		t.Fatalf("output holds more than one JSON document:\n%s", s)
	}
	return v
}

// jsonLines parses JSON lines.
func jsonLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(strings.TrimSpace(s)) {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("line is not JSON: %v\n%s", err, line)
		}
		out = append(out, v)
	}
	return out
}

func TestValidate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := writeFile(t, filepath.Join(dir, "bad.csv"),
		"patient_id,patient_first_name,patient_phone\n1,Ana,(440) 644-3709\n2,Bo,555-1234\n3,Cy,1-800-FLOWERS\n4,,212-555-0101\n")
	noHeader := writeFile(t, filepath.Join(dir, "noheader.csv"), "1,Ana,(440) 644-3709\n")
	sample := abs(t, sample)
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"good file", []string{"validate", sample}, exitOK, []string{"12 rows: 12 valid, 0 with errors"}},
		{"bad rows", []string{"validate", bad}, exitInvalid, []string{
			"error:   line 3, column patient_phone", "line 4, column patient_phone: phone number contains letters",
			"warning: line 5, column patient_first_name", "4 rows: 2 valid, 2 with errors, 1 warnings", "2 of 4 rows have errors",
		}},
		{"no header", []string{"validate", noHeader}, exitInvalid, []string{"header"}},
		{"no file", []string{"validate"}, exitUsage, []string{"missing argument"}},
		{"two files", []string{"validate", sample, bad}, exitUsage, []string{"unexpected argument"}},
		{"missing file", []string{"validate", filepath.Join(dir, "none.csv")}, exitUsage, []string{"no such file"}},
		{"run refuses bad rows", []string{"run", "--csv", bad, "--db", filepath.Join(dir, "x.db")}, exitInvalid, []string{"line 3", "--skip-bad-rows"}},
	}
	for _, tc := range tests {
		r := cli(t, dir, nil, tc.args...)
		if r.code != tc.code {
			t.Errorf("%s: %v", tc.name, r)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(r.stdout+r.stderr, w) {
				t.Errorf("%s: output lacks %q:\n%v", tc.name, w, r)
			}
		}
	}

	r := cli(t, dir, nil, "validate", "--json", bad)
	if r.code != exitInvalid {
		t.Fatalf("validate --json: %v", r)
	}
	doc := jsonDoc(t, r.stdout)
	errs, _ := doc["errors"].([]any)
	if doc["rows"] != 4.0 || doc["bad_rows"] != 2.0 || len(errs) != 2 {
		t.Fatalf("validate --json: %v", doc)
	}
	if first := errs[0].(map[string]any); first["line"] != 3.0 || first["column"] != "patient_phone" {
		t.Errorf("first error: %v", first)
	}
	// Flags after the operand work too.
	if r := cli(t, dir, nil, "validate", sample, "--json"); r.code != 0 || jsonDoc(t, r.stdout)["valid"] != 12.0 {
		t.Errorf("validate FILE --json: %v", r)
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sample := abs(t, sample)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no command", nil, exitUsage, "exit codes:"},
		{"help", []string{"-h"}, exitOK, "130  interrupted"},
		{"command help", []string{"run", "-h"}, exitOK, "-realtime"},
		{"unknown command", []string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{"unknown flag", []string{"status", "--frob"}, exitUsage, "flag provided but not defined"},
		{"run without csv", []string{"run"}, exitUsage, "--csv is required"},
		{"unknown flow", []string{"run", "--flow", "nope", "--csv", sample, "--db", filepath.Join(dir, "y.db")}, exitUsage, "provider"},
		{"unknown runtime", []string{"run", "--runtime", "lambda", "--csv", sample, "--db", filepath.Join(dir, "y.db")}, exitUsage, `unknown runtime "lambda"`},
		{"studio runtime without Twilio", []string{"run", "--runtime", "studio", "--csv", sample, "--db", filepath.Join(dir, "y.db")}, exitUsage, "TWILIO_ACCOUNT_SID"},
		{"negative speed", []string{"run", "--speed", "-1", "--csv", sample}, exitUsage, "--speed"},
		{"bad start", []string{"run", "--start", "tomorrow", "--csv", sample}, exitUsage, "--start"},
		{"export without database", []string{"export", "--db", filepath.Join(dir, "none.db")}, exitUsage, "no such database"},
		{"status without database", []string{"status", "--db", filepath.Join(dir, "none.db")}, exitUsage, "no such database"},
		{"flows without command", []string{"flows"}, exitUsage, "flows needs a command"},
		{"unknown flows command", []string{"flows", "frob"}, exitUsage, "unknown flows command"},
		{"studio without Twilio", []string{"studio", "list"}, exitUsage, "Twilio is not configured"},
		{"studio unknown command", []string{"studio", "frob"}, exitUsage, "unknown studio command"},
	}
	for _, tc := range tests {
		r := cli(t, dir, nil, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.want) {
			t.Errorf("%s: want exit %d and %q; got %v", tc.name, tc.code, tc.want, r)
		}
	}
	// A bad Twilio setting is a usage error that does not echo the token.
	r := cli(t, dir, []string{"TWILIO_ACCOUNT_SID=AC00", "TWILIO_AUTH_TOKEN=hunter2secret"}, "studio", "list", "--json")
	if r.code != exitUsage || strings.Contains(r.stdout+r.stderr, "hunter2secret") {
		t.Errorf("bad Twilio setting: %v", r)
	}
	if doc := jsonDoc(t, r.stdout); doc["exit_code"] != 2.0 || !strings.Contains(doc["error"].(string), "TWILIO_ACCOUNT_SID") {
		t.Errorf("--json error document: %v", doc)
	}
}

// responsesIn counts the rows a responses export of campaign id should
// have, from the database: one per response, or one for a recipient with
// none.
func responsesIn(t *testing.T, db string, id int64) (rows, convs int) {
	t.Helper()
	ctx := context.Background()
	s, err := sqlitestore.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cs, err := s.Conversations(ctx, id, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.Responses(ctx, id, outreach.ResponsePage{})
	if err != nil {
		t.Fatal(err)
	}
	per := map[int64]int{}
	for _, r := range resp {
		per[r.ConversationID]++
	}
	for _, c := range cs {
		rows += max(1, per[c.ID])
	}
	return rows, len(cs)
}

// TestRequireConsent checks --require-consent: validate reports rows
// without consent by line and column, run skips them and sends to the
// others, and a file without a consent column is refused.
func TestRequireConsent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	withConsent := writeFile(t, filepath.Join(dir, "consent.csv"),
		"patient_id,patient_first_name,patient_phone,consent\n1,Ana,(440) 555-0142,yes\n2,Bo,208-555-0187,no\n3,Cy,602.555.0113,\n4,Di,+1 808 555 0164,TRUE\n")
	badAndNoConsent := writeFile(t, filepath.Join(dir, "bad.csv"),
		"patient_id,patient_first_name,patient_phone,consent\n1,Ana,(440) 555-0142,yes\n2,Bo,555-1234,yes\n3,Cy,602.555.0113,no\n")
	start := clocktest.Start(t).Format(time.RFC3339)
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"validate without the flag: consent is an extra column", []string{"validate", withConsent}, exitOK, []string{"4 rows: 4 valid, 0 with errors"}},
		{"validate reports rows without consent", []string{"validate", "--require-consent", withConsent}, exitInvalid, []string{
			"error:   line 3, column consent: no consent recorded (consent must be yes, true or 1)",
			"error:   line 4, column consent: no consent recorded",
			"4 rows: 2 valid, 2 with errors",
		}},
		{"validate refuses a file without a consent column", []string{"validate", "--require-consent", abs(t, sample)}, exitInvalid, []string{
			"missing required column consent", "add a consent column",
		}},
		{"run skips rows without consent", []string{"run", "--require-consent", "--flow", "payor", "--csv", withConsent,
			"--db", filepath.Join(dir, "a.db"), "--seed", "7", "--start", start}, exitOK, []string{
			"line 3, column consent: no consent recorded", "campaign 1: flow payor, 2 recipients", "done: campaign 1 done",
		}},
		{"run still refuses other row errors", []string{"run", "--require-consent", "--csv", badAndNoConsent,
			"--db", filepath.Join(dir, "b.db"), "--start", start}, exitInvalid, []string{"line 3, column patient_phone", "line 4, column consent", "--skip-bad-rows"}},
	}
	for _, tc := range tests {
		r := cli(t, dir, nil, tc.args...)
		if r.code != tc.code {
			t.Errorf("%s: %v", tc.name, r)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(r.stdout+r.stderr, w) {
				t.Errorf("%s: output lacks %q:\n%v", tc.name, w, r)
			}
		}
	}
	r := cli(t, dir, nil, "validate", "--require-consent", "--json", withConsent)
	doc := jsonDoc(t, r.stdout)
	errs, _ := doc["errors"].([]any)
	if r.code != exitInvalid || doc["valid"] != 2.0 || len(errs) != 2 {
		t.Fatalf("validate --json: %v", r)
	}
	if first := errs[0].(map[string]any); first["line"] != 3.0 || first["column"] != "consent" {
		t.Errorf("first error: %v", first)
	}
}

func TestRunStatusExport(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "outreach.db")
	sample := abs(t, sample)

	start := clocktest.Start(t).Format(time.RFC3339)
	r := cli(t, dir, nil, "run", "--flow", "provider", "--csv", sample, "--db", db, "--seed", "7", "--start", start)
	if r.code != exitOK {
		t.Fatalf("run: %v", r)
	}
	for _, want := range []string{"campaign 1: flow provider, 12 recipients", "simulated clock", "progress: 100%", "done: campaign 1 done", "outcomes:", "cli export --db"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("run output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "\r") || strings.Contains(r.stdout, "\x1b[") {
		t.Errorf("run drew a progress bar on a pipe:\n%q", r.stdout)
	}
	info, err := os.Stat(db)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("database %v, mode %v; want mode 0600", err, info.Mode())
	}

	// The same command on a finished campaign creates a new one.
	r = cli(t, dir, nil, "run", "--flow", "payor", "--csv", sample, "--db", db, "--name", "welcome", "--json", "--start", start)
	if r.code != exitOK {
		t.Fatalf("run --json: %v", r)
	}
	lines := jsonLines(t, r.stdout)
	if first, last := lines[0], lines[len(lines)-1]; first["event"] != "start" || first["campaign"] != 2.0 || last["event"] != "done" || last["status"] != "done" {
		t.Fatalf("run --json lines: first %v, last %v", first, last)
	}
	if c := lines[len(lines)-1]["counts"].(map[string]any); c["completed"] != 12.0 || c["total"] != 12.0 {
		t.Errorf("run --json final counts: %v", c)
	}

	r = cli(t, dir, nil, "status", "--db", db)
	if r.code != exitOK || !strings.Contains(r.stdout, "provider-sample_recipients") || !strings.Contains(r.stdout, "welcome") || strings.Count(r.stdout, "completed 12/12") != 2 {
		t.Fatalf("status: %v", r)
	}
	r = cli(t, dir, nil, "status", "--db", db, "--campaign", "1", "--json")
	if doc := jsonDoc(t, r.stdout); r.code != 0 || doc["status"] != "done" || doc["flow"] != "provider" {
		t.Fatalf("status --campaign 1 --json: %v", r)
	}
	if r := cli(t, dir, nil, "status", "--db", db, "--campaign", "9"); r.code != exitUsage || !strings.Contains(r.stderr, "no campaign 9") {
		t.Errorf("status of a missing campaign: %v", r)
	}

	// export: to a file, and to stdout.
	out := filepath.Join(dir, "responses.csv")
	r = cli(t, dir, nil, "export", "--db", db, "--campaign", "1", "--out", out)
	if r.code != exitOK {
		t.Fatalf("export: %v", r)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\ufeff")))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	wantRows, convs := responsesIn(t, db, 1)
	if strings.Join(recs[0], ",") != "patient_id,patient_first_name,patient_phone,question_id,answer,raw_reply,replied_at,outcome,review,alert" {
		t.Errorf("header %v", recs[0])
	}
	if len(recs)-1 != wantRows || convs != 12 {
		t.Errorf("export has %d rows; the database has %d responses rows over %d conversations", len(recs)-1, wantRows, convs)
	}
	answered := 0
	for _, rec := range recs[1:] {
		if rec[3] != "" {
			answered++
			if rec[6] == "" {
				t.Errorf("an answer without its time: %v", rec)
			}
		}
	}
	if answered == 0 {
		t.Error("no recipient answered anything")
	}
	r = cli(t, dir, nil, "export", "--db", db, "--campaign", "1")
	if r.code != exitOK || !bytes.Equal([]byte(r.stdout), b) {
		t.Errorf("export to stdout differs from the file: %v", r)
	}
	r = cli(t, dir, nil, "export", "--db", db, "--campaign", "2", "--out", filepath.Join(dir, "welcome.csv"), "--json")
	if doc := jsonDoc(t, r.stdout); r.code != 0 || doc["rows"] != 12.0 {
		t.Errorf("export --json: %v", r)
	}
}

// TestResume interrupts a run with SIGINT once some messages are sent, and
// runs the same command again: it resumes the campaign, which ends with
// every conversation done and no message sent twice.
func TestResume(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("patient_id,patient_first_name,patient_phone\n")
	codes := []string{"212", "617", "305", "404", "215"} // one zone: all send at the same hours
	const rows = 60
	for i := range rows {
		fmt.Fprintf(&b, "P-%03d,Pat%d,(%s) 555-01%02d\n", i, i, codes[i%len(codes)], i/len(codes))
	}
	csvPath := writeFile(t, filepath.Join(dir, "patients.csv"), b.String())
	db := filepath.Join(dir, "outreach.db")
	args := []string{"run", "--csv", csvPath, "--db", db, "--name", "spring check-in"}

	// 10 times real time, at 10:00 in New York: 10 messages a second at most.
	cmd := newCmd(dir, nil, append(args, "--speed", "10", "--start", "2026-03-10T10:00:00-04:00", "--every", "100ms")...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sentRE := regexp.MustCompile(`sent (\d+),`)
	var out strings.Builder
	sc := bufio.NewScanner(stdout)
	interrupted := false
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if m := sentRE.FindStringSubmatch(sc.Text()); m != nil && !interrupted {
			if n, _ := strconv.Atoi(m[1]); n >= 6 {
				if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
					t.Fatal(err)
				}
				interrupted = true
			}
		}
	}
	err = cmd.Wait()
	if !interrupted {
		t.Fatalf("the run ended before sending 6 messages: %v\n%s\n%s", err, out.String(), errb.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Fatalf("interrupted run exited %d, want %d\n%s\n%s", code, exitInterrupted, out.String(), errb.String())
	}
	for _, want := range []string{"interrupted: campaign 1 stopped", "Run the same command again", "cli run --flow provider --csv " + csvPath, "--name 'spring check-in'"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("interrupted run's stderr lacks %q:\n%s", want, errb.String())
		}
	}
	first := checkMessages(t, db, rows, false)
	if first.done == rows {
		t.Fatalf("the first run finished every conversation before SIGINT: make it slower")
	}
	if first.unsettled != 0 {
		t.Errorf("%d messages left sending or unknown by the interrupted run: in-flight sends must be recorded", first.unsettled)
	}

	// An hour later: the first run's campaign time went on for less.
	r := cli(t, dir, nil, append(args, "--start", "2026-03-10T11:00:00-04:00")...)
	if r.code != exitOK {
		t.Fatalf("resumed run: %v", r)
	}
	if !strings.Contains(r.stdout, "resuming campaign 1 (spring check-in)") || !strings.Contains(r.stdout, "done: campaign 1 done") {
		t.Errorf("resumed run's output:\n%s", r.stdout)
	}
	final := checkMessages(t, db, rows, true)
	if final.sent < first.sent {
		t.Errorf("sent %d after resuming, %d before", final.sent, first.sent)
	}
}

type dbFigures struct {
	done, sent, unsettled int
}

// checkMessages checks the database holds one campaign of rows
// conversations in which no outbound message key and no provider id
// appears twice, and returns figures.
func checkMessages(t *testing.T, db string, rows int, finished bool) dbFigures {
	t.Helper()
	ctx := context.Background()
	s, err := sqlitestore.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	camps, err := s.Campaigns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(camps) != 1 {
		t.Fatalf("%d campaigns in the database, want 1 (a resumed run must not create another)", len(camps))
	}
	if finished && camps[0].Status != outreach.CampaignDone {
		t.Errorf("campaign status %s, want done", camps[0].Status)
	}
	convs, err := s.Conversations(ctx, camps[0].ID, 0, 10*rows)
	if err != nil {
		t.Fatal(err)
	}
	if len(convs) != rows {
		t.Fatalf("%d conversations, want one per CSV row: %d", len(convs), rows)
	}
	var f dbFigures
	keys := map[outreach.SendKey]bool{}
	sids := map[string]bool{}
	for _, c := range convs {
		if c.Status == outreach.ConversationDone {
			f.done++
		} else if finished {
			t.Errorf("conversation %d is %s", c.ID, c.Status)
		}
		msgs, err := s.Messages(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if m.Direction != outreach.Outbound {
				continue
			}
			if keys[m.Key] {
				t.Errorf("message key %v appears twice", m.Key)
			}
			keys[m.Key] = true
			switch m.Status {
			case outreach.MessageSent:
				f.sent++
				if sids[m.ProviderID] {
					t.Errorf("provider id %s recorded twice", m.ProviderID)
				}
				sids[m.ProviderID] = true
			case outreach.MessageSending, outreach.MessageUnknown:
				f.unsettled++
			}
		}
	}
	return f
}

func TestFlows(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	flowDir := filepath.Join(dir, "flows")
	if err := os.Mkdir(flowDir, 0o700); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile("../../flows/testdata/checkin.json")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(flowDir, "checkin.json"), string(good))

	r := cli(t, dir, nil, "flows", "list", "--dir", flowDir)
	if r.code != exitOK {
		t.Fatalf("flows list: %v", r)
	}
	for _, want := range []string{"payor", "pharma", "provider", "built-in", "checkin", "two-way"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("flows list lacks %q:\n%s", want, r.stdout)
		}
	}
	bad, err := os.ReadFile("../../flows/testdata/bad/unknown_field.json")
	if err != nil {
		t.Fatal(err)
	}
	badFile := writeFile(t, filepath.Join(flowDir, "broken.json"), string(bad))
	r = cli(t, dir, nil, "flows", "list", "--dir", flowDir, "--json")
	if r.code != exitInvalid {
		t.Fatalf("flows list with a broken file: %v", r)
	}
	if list := jsonDoc(t, r.stdout)["flows"].([]any); len(list) != 5 {
		t.Errorf("flows list --json: %d flows, want 5", len(list))
	}

	r = cli(t, dir, nil, "flows", "show", "provider")
	if r.code != exitOK {
		t.Fatalf("flows show: %v", r)
	}
	provider, err := flows.Builtin("provider")
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range provider.Steps {
		if !strings.Contains(r.stdout, st.ID+": "+string(st.Kind)) {
			t.Errorf("flows show lacks step %s (%s):\n%s", st.ID, st.Kind, r.stdout)
		}
	}
	for _, want := range []string{"answer:", "a whole number from 0 to 10", "route:", "timeout:", `opt-out footer: " Reply STOP to opt out.", on the first message unless it mentions STOP`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("flows show lacks %q:\n%s", want, r.stdout)
		}
	}

	// validate: a good file, then every error of bad ones with its place.
	if r := cli(t, dir, nil, "flows", "validate", filepath.Join(flowDir, "checkin.json")); r.code != exitOK || !strings.Contains(r.stdout, "is valid") {
		t.Errorf("flows validate good: %v", r)
	}
	r = cli(t, dir, nil, "flows", "validate", badFile)
	if r.code != exitInvalid || !regexp.MustCompile(`broken.json: line \d+, column \d+: steps\[0\]\.nxt: `).MatchString(r.stdout) {
		t.Errorf("flows validate unknown field: %v", r)
	}
	twoProblems := strings.Replace(string(good), `"next": "ask_mood"`, `"next": "nowhere"`, 1)
	twoProblems = strings.Replace(twoProblems, `"kind": "send"`, `"kind": "shout"`, 1)
	r = cli(t, dir, nil, "flows", "validate", "--json", writeFile(t, filepath.Join(dir, "two.json"), twoProblems))
	if r.code != exitInvalid {
		t.Fatalf("flows validate two problems: %v", r)
	}
	if doc := jsonDoc(t, r.stdout); doc["valid"] != false || len(doc["errors"].([]any)) < 2 {
		t.Errorf("flows validate --json: %v", doc)
	}
	if r := cli(t, dir, nil, "flows", "show", badFile); r.code != exitInvalid {
		t.Errorf("flows show of a broken file: %v", r)
	}

	// export-studio, then import-studio gives the same flow back.
	def := filepath.Join(dir, "provider.studio.json")
	if r := cli(t, dir, nil, "flows", "export-studio", "provider", "--out", def); r.code != exitOK {
		t.Fatalf("export-studio: %v", r)
	}
	r = cli(t, dir, nil, "flows", "export-studio", "provider")
	data, _ := os.ReadFile(def)
	if r.code != exitOK || strings.TrimSpace(r.stdout) != strings.TrimSpace(string(data)) {
		t.Fatalf("export-studio to stdout differs from the file: %v", r)
	}
	if _, err := studio.Decode(data); err != nil {
		t.Fatalf("exported definition: %v", err)
	}
	back := filepath.Join(dir, "back.json")
	if r := cli(t, dir, nil, "flows", "import-studio", def, "--id", provider.ID, "--name", provider.Name, "--out", back); r.code != exitOK {
		t.Fatalf("import-studio: %v", r)
	}
	got, err := flows.LoadFile(back)
	if err != nil {
		t.Fatalf("the imported flow does not load: %v", err)
	}
	if got.Source == nil || got.Source.Format != studio.SourceFormat {
		t.Errorf("the imported flow does not keep its Studio definition: %+v", got.Source)
	}
	got.Source = nil
	if !reflect.DeepEqual(got.Clone(), provider.Clone()) {
		t.Errorf("import of the export changed the flow:\nwant %+v\ngot  %+v", provider, got)
	}

	// A widget the embedded engine cannot run, and one nothing leads to:
	// warnings, each naming its widget and type; the flow is written.
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	raw["states"] = append(raw["states"].([]any), map[string]any{
		"name": "fetch_chart", "type": "make-http-request", "transitions": []any{},
		"properties": map[string]any{"method": "GET", "url": "https://ehr.example/chart"},
	})
	raw["states"] = append(raw["states"].([]any), map[string]any{
		"name": "orphan", "type": "send-message", "transitions": []any{},
		"properties": map[string]any{"body": "never sent"},
	})
	for _, st := range raw["states"].([]any) {
		if st := st.(map[string]any); st["name"] == "done_call" {
			st["transitions"] = []any{map[string]any{"event": "sent", "next": "fetch_chart"}, map[string]any{"event": "failed"}}
		}
	}
	withHTTP, _ := json.Marshal(raw)
	httpFile := writeFile(t, filepath.Join(dir, "http.json"), string(withHTTP))
	r = cli(t, dir, nil, "flows", "import-studio", httpFile, "--out", filepath.Join(dir, "http.flow.json"))
	if r.code != exitOK {
		t.Fatalf("import with warnings: %v", r)
	}
	for _, want := range []string{
		`warning: widget "fetch_chart" (make-http-request): `, `"unsupported: make-http-request"`,
		`warning: widget "orphan" (send-message): unreachable`,
		`warning: widget "done_call_outcome" (set-variables): unreachable`, "3 warnings",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("import-studio stderr does not say %q:\n%s", want, r.stderr)
		}
	}
	r = cli(t, dir, nil, "flows", "import-studio", "--json", httpFile, "--out", filepath.Join(dir, "http.flow.json"))
	if doc := jsonDoc(t, r.stdout); r.code != exitOK || doc["warnings"] != 3.0 || len(doc["problems"].([]any)) != 3 {
		t.Errorf("import-studio --json: %v", r)
	}
	// Errors: every one listed, and a non-zero exit.
	twoErrors := strings.Replace(string(withHTTP), `"name":"orphan"`, `"name":"done_call"`, 1)
	twoErrors = strings.Replace(twoErrors, `"initial_state":"Trigger"`, `"initial_state":"Start"`, 1)
	r = cli(t, dir, nil, "flows", "import-studio", writeFile(t, filepath.Join(dir, "dup.json"), twoErrors))
	if r.code != exitInvalid || strings.Count(r.stderr, "error: widget") != 2 || !strings.Contains(r.stderr, "same name") || !strings.Contains(r.stderr, `initial_state "Start"`) || !strings.Contains(r.stderr, `warning: widget "fetch_chart"`) {
		t.Errorf("import with errors: %v", r)
	}
	if r := cli(t, dir, nil, "flows", "import-studio", writeFile(t, filepath.Join(dir, "junk.json"), "{nope")); r.code != exitInvalid {
		t.Errorf("import of junk: %v", r)
	}
}

func TestStudio(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := twiliotest.New(twiliotest.Options{Numbers: []string{"+15005550006"}})
	defer srv.Close()
	env := []string{
		"TWILIO_API_BASE=" + srv.URL(), "TWILIO_ACCOUNT_SID=" + srv.AccountSID(),
		"TWILIO_AUTH_TOKEN=" + srv.AuthToken(), "TWILIO_PHONE_NUMBER=+15005550006",
	}

	r := cli(t, dir, env, "studio", "list")
	if r.code != exitOK || !strings.Contains(r.stdout, "no Studio flow") {
		t.Fatalf("studio list on a new account: %v", r)
	}
	r = cli(t, dir, env, "studio", "deploy", "provider", "--json")
	if r.code != exitOK {
		t.Fatalf("studio deploy: %v", r)
	}
	dep := jsonDoc(t, r.stdout)["deployed"].(map[string]any)
	sid, _ := dep["sid"].(string)
	if !strings.HasPrefix(sid, "FW") || dep["revision"] != 1.0 || dep["status"] != "published" {
		t.Fatalf("deployed: %v", dep)
	}
	r = cli(t, dir, env, "studio", "deploy", "provider", "--draft", "--point-number")
	if r.code != exitOK || !strings.Contains(r.stdout, sid+", revision 2, draft") || !strings.Contains(r.stdout, "pointed ***0006") {
		t.Fatalf("studio deploy again: %v", r)
	}
	if r := cli(t, dir, env, "studio", "deploy", "payor"); r.code != exitOK {
		t.Fatalf("studio deploy payor: %v", r)
	}
	// The number now belongs to the provider flow (recorded in the
	// database): another two-way flow is deployed but cannot take it.
	r = cli(t, dir, env, "studio", "deploy", "pharma", "--point-number")
	if r.code != exitInvalid || !strings.Contains(r.stderr, "is owned by the studio runtime") {
		t.Fatalf("studio deploy pharma --point-number over provider's number: %v", r)
	}
	r = cli(t, dir, env, "studio", "list", "--json")
	if r.code != exitOK || len(jsonDoc(t, r.stdout)["flows"].([]any)) != 3 {
		t.Fatalf("studio list --json: %v", r)
	}
	if r := cli(t, dir, env, "studio", "delete", sid); r.code != exitOK || !strings.Contains(r.stdout, "deleted") {
		t.Fatalf("studio delete %s: %v", sid, r)
	}
	r = cli(t, dir, env, "studio", "list")
	if r.code != exitOK || strings.Contains(r.stdout, sid) || !strings.Contains(r.stdout, "FW") {
		t.Fatalf("studio list after delete: %v", r)
	}
	if r := cli(t, dir, env, "studio", "delete", sid); r.code != exitInvalid || !strings.Contains(r.stderr, "not found") {
		t.Errorf("studio delete twice: %v", r)
	}
	if r := cli(t, dir, env, "studio", "delete", "New member welcome", "--json"); r.code != exitOK || jsonDoc(t, r.stdout)["deleted"] != "New member welcome" {
		t.Errorf("studio delete by friendly name: %v", r)
	}
}

// TestStudioRun runs a one-way campaign through the studio runtime: the
// binary talks to a fake Twilio in this process, whose executions the
// studio Interpreter runs against simulated phones. The binary's studio
// runtime tells the time by the system clock, as it must with the real
// Twilio (it lists executions created since its campaign began), so the
// fake keeps the system clock too; with quiet hours off (--window) the
// result does not depend on the hour.
func TestStudioRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := twiliotest.New(twiliotest.Options{Numbers: []string{"+15005550006"},
		Studio: studiotest.NewInterpreter(studiotest.InterpreterOptions{}), ExecutionsPerSecond: studio.MaxExecutionsPerSecond})
	defer srv.Close()
	srv.Network().SetDefault(func(*rand.Rand) simphone.Persona { return simphone.Persona{Silent: true} })
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go srv.Run(ctx)
	env := []string{
		"TWILIO_API_BASE=" + srv.URL(), "TWILIO_ACCOUNT_SID=" + srv.AccountSID(),
		"TWILIO_AUTH_TOKEN=" + srv.AuthToken(), "TWILIO_PHONE_NUMBER=+15005550006",
	}
	db := filepath.Join(dir, "s.db")
	r := cli(t, dir, env, "run", "--runtime", "studio", "--flow", "payor", "--csv", abs(t, sample), "--db", db,
		"--window", "00:00-24:00", "--studio-poll", "100ms", "--json")
	if r.code != exitOK {
		t.Fatalf("run --runtime studio: %v", r)
	}
	flows := srv.Flows()
	if len(flows) != 1 {
		t.Fatalf("%d flows deployed, want 1", len(flows))
	}
	execs := srv.Executions(flows[0].SID)
	seen := make(map[string]bool)
	for _, e := range execs {
		if seen[e.ContactChannelAddress] || e.Status != "ended" {
			t.Errorf("execution %s for %s: status %s (seen before: %v)", e.SID, e.ContactChannelAddress, e.Status, seen[e.ContactChannelAddress])
		}
		seen[e.ContactChannelAddress] = true
	}
	if len(execs) == 0 || len(srv.Messages()) < len(execs) {
		t.Errorf("%d executions sent %d messages", len(execs), len(srv.Messages()))
	}
	r = cli(t, dir, env, "status", "--db", db, "--json")
	if r.code != exitOK || !strings.Contains(r.stdout, `"done"`) {
		t.Errorf("status after the studio run: %v", r)
	}
}

// TestRunInProcess runs campaigns inside the test process, so that the
// race detector watches the runtime's goroutines: a simulated run, and a
// run at 50 times real time cancelled midway then resumed.
func TestRunInProcess(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "outreach.db")
	sample := abs(t, sample)
	var out, errb bytes.Buffer
	a := &app{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	if code := run(context.Background(), a, []string{"run", "--csv", sample, "--db", db, "--flow", "pharma", "--start", clocktest.Start(t).Format(time.RFC3339)}); code != exitOK {
		t.Fatalf("run exited %d\n%s\n%s", code, out.String(), errb.String())
	}

	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	out.Reset()
	errb.Reset()
	args := []string{"run", "--csv", sample, "--db", db, "--name", "fast", "--speed", "50", "--start", "2026-03-10T12:00:00-04:00"}
	code := run(ctx, a, args)
	if code != exitInterrupted && code != exitOK {
		t.Fatalf("run at speed 50 exited %d\n%s\n%s", code, out.String(), errb.String())
	}
	out.Reset()
	errb.Reset()
	// Resumed on the simulated clock an hour later: the run at speed 50
	// went on for about a minute of campaign time.
	resume := append(args[:len(args)-4:len(args)-4], "--start", "2026-03-10T13:00:00-04:00")
	if code := run(context.Background(), a, resume); code != exitOK {
		t.Fatalf("resumed run exited %d\n%s\n%s", code, out.String(), errb.String())
	}
}

func TestProgressBar(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	a := &app{stdout: &out, stderr: &out, terminal: true}
	rep := newReporter(a, 1, time.Second)
	p := outreach.Progress{Total: 8, Done: 2, Replies: 3, Deferred: 1, Outcomes: map[string]int{"opted_out": 1},
		Messages: map[outreach.MessageStatus]int{outreach.MessageSent: 5}}
	rep.update(p)
	p.Done = 4
	rep.first = rep.first.Add(-2 * time.Second) // two seconds for two conversations: four more take four
	rep.update(p)
	p.Done = 8
	rep.final(p)
	s := out.String()
	for _, want := range []string{"\r[######------------------] 2/8 completed  sent 5  replied 3  opted out 1  failed 0  deferred 1  ETA --\x1b[K",
		"\r[############------------] 4/8 completed", "ETA 4s", "\r[########################] 8/8 completed"} {
		if !strings.Contains(s, want) {
			t.Errorf("bar output lacks %q:\n%q", want, s)
		}
	}
	if !strings.HasSuffix(s, "\n") {
		t.Errorf("the final bar does not end its line: %q", s)
	}
}
