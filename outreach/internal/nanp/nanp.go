// Package nanp knows which numbers of the North American Numbering Plan
// (country code 1: the United States, Canada and the Caribbean) are valid,
// without parsing them with github.com/nyaruka/phonenumbers.
//
// Its tables are generated from phonenumbers' metadata (go generate runs
// ./gen), so that [Valid] agrees with phonenumbers.IsValidNumber for every
// ten-digit national number, and a test fails when they are out of date.
package nanp

//go:generate go run ./gen -o table.go

// Valid reports whether phonenumbers finds +1 followed by nsn valid.
// nsn is the ten-digit national number in ASCII digits. It must start
// with 2 to 9, as area codes do: Valid returns false for anything else
// (phonenumbers does too, but it parses such input differently).
func Valid(nsn [10]byte) bool {
	if nsn[0] < '2' || nsn[0] > '9' {
		return false
	}
	for _, c := range nsn {
		if c < '0' || c > '9' {
			return false
		}
	}
	n := uint16(trieRoot)
	for _, c := range nsn {
		n = trie[n][c-'0']
		if n < firstNode {
			break
		}
	}
	return n == leafValid
}

// Trie entries: leafInvalid and leafValid say that every number with the
// digits read so far is invalid or valid; any other entry is the index in
// trie of the node that reads the next digit.
const (
	leafInvalid = 0
	leafValid   = 1
	firstNode   = 2
)

// Region reports whether code is a NANP region ("US", "CA", "JM", ...,
// upper case) whose numbers phonenumbers parses as the fast path of
// outreach.NormalizePhone expects: a ten-digit national number, or 1 and
// ten digits, is read as that national number.
func Region(code string) bool {
	for _, r := range regions {
		if r == code {
			return true
		}
	}
	return false
}
