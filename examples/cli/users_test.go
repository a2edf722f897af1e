package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// usersCLI runs cli users ... in dir with stdin.
func usersCLI(t *testing.T, dir, stdin string, args ...string) result {
	t.Helper()
	cmd := newCmd(dir, nil, append([]string{"users"}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	code := 0
	if err := cmd.Run(); err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatal(err)
		}
		code = ee.ExitCode()
	}
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// TestUsersCommands: users add reads the password from stdin and writes
// the web app's database; users list shows the users without their
// password hash or full phone.
func TestUsersCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const pw = "the first administrator's password"
	r := usersCLI(t, dir, pw+"\n", "add", "--name", "ann", "--role", "admin", "--phone", "(415) 555-0100")
	if r.code != exitOK || !strings.Contains(r.stdout, "added ann (admin") {
		t.Fatalf("users add: %v", r)
	}
	if !fileExists(dir + "/outreach.db") {
		t.Fatal("users add did not use outreach.db")
	}
	r = usersCLI(t, dir, pw+"\n", "add", "--json", "--name", "vic", "--role", "viewer", "--phone", "+14155550101")
	var added struct {
		User struct{ Name, Role, Phone string }
	}
	if r.code != exitOK || json.Unmarshal([]byte(r.stdout), &added) != nil || added.User.Name != "vic" || added.User.Role != "viewer" {
		t.Fatalf("users add --json: %v", r)
	}
	for _, c := range []struct {
		stdin string
		args  []string
	}{
		{pw, []string{"add", "--name", "ann", "--role", "admin", "--phone", "+14155550100"}},         // exists
		{pw, []string{"add", "--name", "Ann B", "--role", "admin", "--phone", "+14155550100"}},       // name
		{pw, []string{"add", "--name", "bob", "--role", "root", "--phone", "+14155550100"}},          // role
		{pw, []string{"add", "--name", "bob", "--role", "viewer", "--phone", "12"}},                  // phone
		{"short\n", []string{"add", "--name", "bob", "--role", "viewer", "--phone", "+14155550100"}}, // password
		{"", []string{"list", "--db", "missing.db"}},
	} {
		if r := usersCLI(t, dir, c.stdin, c.args...); r.code != exitUsage {
			t.Errorf("users %v: exit %d; want %d\n%v", c.args, r.code, exitUsage, r)
		}
	}
	r = usersCLI(t, dir, "", "list")
	if r.code != exitOK || !strings.Contains(r.stdout, "ann") || !strings.Contains(r.stdout, "vic") || !strings.Contains(r.stdout, "viewer") {
		t.Fatalf("users list: %v", r)
	}
	r = usersCLI(t, dir, "", "list", "--json")
	var list struct {
		Users []struct{ Name, Role, Phone string }
	}
	if r.code != exitOK || json.Unmarshal([]byte(r.stdout), &list) != nil || len(list.Users) != 2 {
		t.Fatalf("users list --json: %v", r)
	}
	for _, out := range []string{r.stdout, usersCLI(t, dir, "", "list").stdout} {
		if strings.Contains(out, "argon2") || strings.Contains(out, "5550100") || strings.Contains(out, pw) {
			t.Errorf("users list shows a hash, a full phone or the password:\n%s", out)
		}
	}
}
