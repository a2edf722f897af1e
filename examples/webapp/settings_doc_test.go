package main

import (
	"os"
	"strings"
	"testing"
)

// TestSettingsDocumented: every setting the app reads is in .env.example
// and in the app's README, so neither falls behind the code.
func TestSettingsDocumented(t *testing.T) {
	t.Parallel()
	for _, file := range []string{".env.example", "README.md"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range settings {
			if !strings.Contains(string(b), s.name) {
				t.Errorf("%s does not mention %s (%s)", file, s.name, s.help)
			}
		}
	}
}
