package main

import (
	"strings"
	"testing"
)

// An error names the command once: "cli flows: no built-in flow", not
// "cli flows: flows: no built-in flow".
func TestErrorNamesCommandOnce(t *testing.T) {
	t.Parallel()
	r := cli(t, t.TempDir(), nil, "flows", "show", "nurse")
	if r.code != exitUsage {
		t.Fatalf("flows show nurse: %v", r)
	}
	if !strings.Contains(r.stderr, `cli flows: no built-in flow "nurse"`) || strings.Count(r.stderr, "flows:") != 1 {
		t.Errorf("stderr = %q: want one \"cli flows: no built-in flow\" prefix", r.stderr)
	}
}
