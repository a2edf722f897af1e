package twiliocall_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/patient-outreach/sms/internal/twiliocall"
)

func TestPages(t *testing.T) {
	boom := errors.New("boom")
	// list serves pages 0..n-1; page i links to i+1 with a token.
	list := func(n, stopAt int, fail error, seen *[]string) func(token, number string) (string, error) {
		return func(token, number string) (string, error) {
			*seen = append(*seen, token+"/"+number)
			i := len(*seen) - 1
			switch {
			case fail != nil && i == stopAt:
				return "", fail
			case i == stopAt || i == n-1:
				return "", nil
			}
			return fmt.Sprintf("https://api.twilio.com/x.json?PageSize=50&Page=%d&PageToken=PT%d", i+1, i+1), nil
		}
	}
	for _, tt := range []struct {
		name         string
		n, stop, max int
		fail         error
		complete     bool
		pages        []string
	}{
		{"to the end", 3, -1, 10, nil, true, []string{"/", "PT1/1", "PT2/2"}},
		{"stopped early", 5, 1, 10, nil, true, []string{"/", "PT1/1"}},
		{"too many pages", 5, -1, 2, nil, false, []string{"/", "PT1/1"}},
		{"an error", 5, 1, 10, boom, false, []string{"/", "PT1/1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var seen []string
			complete, err := twiliocall.Pages(tt.max, list(tt.n, tt.stop, tt.fail, &seen))
			if complete != tt.complete || !errors.Is(err, tt.fail) || !slices.Equal(seen, tt.pages) {
				t.Errorf("Pages = %v, %v after %q; want %v, %v after %q", complete, err, seen, tt.complete, tt.fail, tt.pages)
			}
		})
	}
	if _, err := twiliocall.Pages(3, func(string, string) (string, error) { return "http://[::1", nil }); err == nil {
		t.Errorf("a bad next-page URL gave no error")
	}
}
