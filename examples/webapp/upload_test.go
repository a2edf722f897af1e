package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/patient-outreach/sms/internal/benchdata"
)

// TestLargeUploadStreamed uploads a file of more rows than the old
// 100,000-row cap, with the benchmark's mix of formats, bad rows and
// duplicates: the preview counts every row and lists the first problems
// only; starting it stores every valid row (streamed from the kept copy
// of the file, in batches); a second start of the same upload is
// refused; and the copy is removed once used. Skipped under the race
// detector (CI runs it without).
func TestLargeUploadStreamed(t *testing.T) {
	if raceEnabled {
		t.Skip("stores 100,000+ conversations: too slow under -race; CI runs it without")
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where the upload's copy is kept
	const rows = 130_000    // about 105,000 valid: the mix has extensions, refused, and bad rows
	var file bytes.Buffer
	counts, err := benchdata.WriteRecipients(&file, rows, benchdata.DefaultMix)
	if err != nil {
		t.Fatal(err)
	}
	ta := startApp(t, nil)
	c := ta.client(t)
	c.login(ta)
	resp, body := c.postFile("/campaigns/new", map[string]string{"flow": "provider", "runtime": "embedded", "name": "Welcome"}, "recipients", "members.csv", file.Bytes())
	mustStatus(t, "upload", resp, body, http.StatusSeeOther)
	preview := resp.Header.Get("Location")
	resp, body = c.get(preview)
	mustStatus(t, "preview", resp, body, http.StatusOK)
	m := regexp.MustCompile(`(\d+) rows: <strong>(\d+)</strong> can be used, <strong>(\d+)</strong> have errors`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no summary on the preview:\n%.2000s", body)
	}
	total, valid, bad := atoi(t, m[1]), atoi(t, m[2]), atoi(t, m[3])
	if total != rows || valid+bad != rows || bad < counts.Bad+counts.Duplicates || valid <= 100_000 {
		t.Fatalf("preview counts %d rows, %d valid, %d bad; the file has %d rows, at least %d of them bad (%+v), and more than 100,000 valid", total, valid, bad, rows, counts.Bad+counts.Duplicates, counts)
	}
	if n := bytes.Count([]byte(body), []byte(`class="error-row"`)); n != maxShownProblems {
		t.Errorf("the preview lists %d row errors; want the first %d", n, maxShownProblems)
	}
	if !regexp.MustCompile(`And \d+ more errors, not listed`).MatchString(body) {
		t.Errorf("the preview does not say how many errors it leaves out")
	}
	if kept := uploadCopies(t, tmp); len(kept) != 1 {
		t.Fatalf("copies of the upload kept: %v; want one", kept)
	}

	resp, body = c.postForm(preview+"/start", nil)
	mustStatus(t, "start", resp, body, http.StatusSeeOther)
	campaign := resp.Header.Get("Location")
	resp, body = c.postForm(preview+"/start", nil)
	mustStatus(t, "second start of the same upload", resp, body, http.StatusNotFound)
	resp, body = c.get(campaign)
	mustStatus(t, "campaign page", resp, body, http.StatusOK)
	if got := pageCounters(body)["total"]; got != strconv.Itoa(valid) {
		t.Errorf("the campaign has %s conversations; want the %d valid rows", got, valid)
	}
	if kept := uploadCopies(t, tmp); len(kept) != 0 {
		t.Errorf("copies of the upload kept after it was used: %v", kept)
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// uploadCopies lists the copies of uploads in dir.
func uploadCopies(t *testing.T, dir string) []string {
	t.Helper()
	list, err := filepath.Glob(filepath.Join(dir, "outreach-upload-*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range list {
		if _, err := os.Stat(p); err != nil {
			t.Fatal(err)
		}
	}
	return list
}
