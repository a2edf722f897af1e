// Package zipzone tells the time zone of a US ZIP code, from the data of
// github.com/infused/ziptz (December 2023; see gen for how table.go is
// made). fhirio uses it for addresses in states that span zones.
package zipzone

//go:generate sh -c "go run ./gen tz.data > table.go"

// Of returns the IANA zone of a ZIP code (five digits, or ZIP+4 written
// 12345-6789), or "" when the code is malformed or unknown.
func Of(zip string) string {
	if len(zip) == 10 && zip[5] == '-' {
		zip = zip[:5]
	}
	if len(zip) != 5 {
		return ""
	}
	for i := range len(zip) {
		if zip[i] < '0' || zip[i] > '9' {
			return ""
		}
	}
	if z, ok := prefixes[zip[:3]]; ok {
		return z
	}
	return codes[zip]
}
