package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readmeCommands returns the command lines of the shell blocks of the
// repository's README.md, comments stripped.
func readmeCommands(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var cmds []string
	in := false
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "```sh"):
			in = true
		case strings.HasPrefix(line, "```"):
			in = false
		case in:
			if i := strings.Index(line, "#"); i >= 0 {
				line = line[:i]
			}
			if line = strings.TrimSpace(line); line != "" {
				cmds = append(cmds, line)
			}
		}
	}
	return cmds
}

// TestReadmeCommands runs every command of README.md's shell blocks as a
// newcomer would, in order, in one empty folder: the CLI tour's commands
// with the program these tests built, and each must succeed. Commands of
// other programs are named here with the test that covers them, so a new
// README command cannot go untested.
func TestReadmeCommands(t *testing.T) {
	t.Parallel()
	elsewhere := map[string]string{
		"go run ./examples/webapp": "examples/webapp: TestUploadPreviewAndStart and TestBrowser run the app in dev mode",
		"go test -race -gcflags='modernc.org/...=-race=false' -gcflags='golang.org/x/crypto/...=-race=false' -gcflags='modernc.org/sqlite=-d=checkptr=0' ./...": "the test run itself (.ci/run runs it)",
	}
	root := abs(t, "../..")
	dir := t.TempDir()
	cmds := readmeCommands(t)
	if len(cmds) < 5 {
		t.Fatalf("found %d commands in README.md's shell blocks: the parser is broken", len(cmds))
	}
	for _, line := range cmds {
		if _, ok := elsewhere[line]; ok {
			continue
		}
		args, ok := strings.CutPrefix(line, "go run ./examples/cli ")
		if !ok {
			t.Errorf("README command %q: no test runs it (add it to this test)", line)
			continue
		}
		fields := strings.Fields(args)
		for i, f := range fields {
			// Files of the repository (the sample CSV) are read from it;
			// everything else is made in the empty folder.
			if p := filepath.Join(root, f); strings.Contains(f, "/") && fileExists(p) {
				fields[i] = p
			}
		}
		r := cli(t, dir, nil, fields...)
		if r.code != exitOK {
			t.Errorf("README command %q: %v", line, r)
		}
	}
}
