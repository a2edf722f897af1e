package studio

import (
	"math"
	"regexp"
	"strings"
	"testing"
)

// eqPattern(b) takes exactly the numerals Holds reads as b, and eqBound
// reads b back.
func TestEqPattern(t *testing.T) {
	t.Parallel()
	values := []float64{0, 1, -1, 7, 10, 18, 18.5, 109.5, 0.5, 0.05, -0.5, -2.25, 100, 1e6, 123.456}
	numerals := []string{"0", "-0", "+0", "00", "0.", ".0", "0.00", "-0.0", "1", "01", "1.0", "1.", "+1",
		"-1", "-01", "-1.00", "7", "10", "010", "10.0", "100", "1e1", "18", "18.5", "18.50", "018.5",
		"18.05", "185", "1.85", "109.5", "109.50", "0.5", ".5", ".50", "0.05", "0.005", "-0.5", "-.5",
		"-2.25", "-2.250", "2.25", "1000000", "1000000.0", "123.456", "123.4560", " 18 ", "18 .5", "1,5",
		"", "abc", "1 8"}
	for _, b := range values {
		p := eqPattern(b)
		re := regexp.MustCompile(p)
		for _, n := range numerals {
			want := false
			if f, ok := number(strings.TrimSpace(n)); ok {
				want = f == b
			}
			if got := re.MatchString(n); got != want {
				t.Errorf("eqPattern(%v) = %s on %q: %v, want %v", b, p, n, got, want)
			}
		}
		if got, ok := eqBound(p); !ok || got != b {
			t.Errorf("eqBound(%s) = %v, %v; want %v", p, got, ok, b)
		}
	}
	for _, p := range []string{"", `^\d+$`, `^\s*\+?0*18(\.0*)?\s*`, `^\s*\+?0*18(\.0*)?x\s*$`, `^\s*-0*18\.0*\s*$`, TextPattern, NumberPattern} {
		if b, ok := eqBound(p); ok {
			t.Errorf("eqBound(%q) = %v", p, b)
		}
	}
	if got := fmtNum(math.Copysign(0, -1)); got != "0" {
		t.Errorf("fmtNum(-0) = %q", got)
	}
}
