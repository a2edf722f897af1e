package outreach

import (
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// referenceOptOutText is appendOptOutText the slow way: NFKD through the
// norm package's String for every rune that is neither ASCII nor folded by
// latin1Fold.
func referenceOptOutText(body string) string {
	var b []byte
	for _, r := range body {
		switch {
		case r < utf8.RuneSelf:
			b = appendOptOutByte(b, byte(r))
		case latin1Fold(r) != 0:
			b = appendOptOutByte(b, latin1Fold(r))
		default:
			for _, dr := range norm.NFKD.String(string(r)) {
				b = appendOptOutRune(b, dr)
			}
		}
	}
	return string(b)
}

// FuzzOptOutTextNFKD: the decomposition read from norm's tables rune by
// rune gives what NFKD gives.
func FuzzOptOutTextNFKD(f *testing.F) {
	for _, s := range []string{"ＳＴＯＰ", "Ⓢⓣⓞⓟ", "𝐒𝐓𝐎𝐏", "ﬁn", "ǅ", "¼", "™", "🛑✋", "más", "ŝtōp", "ſtop", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, r := range body {
			if 0xAC00 <= r && r <= 0xD7A3 {
				return // Hangul syllables decompose by algorithm, not by table
			}
		}
		got := string(appendOptOutText(nil, body))
		if want := referenceOptOutText(body); got != want {
			t.Errorf("appendOptOutText(%q) = %q, want %q", body, got, want)
		}
	})
}
