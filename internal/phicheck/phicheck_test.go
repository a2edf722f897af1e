package phicheck

import (
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	var s Secrets
	s.Add("first name", "Zebulon", "Al") // "Al" is too short to check
	s.Add("reply", "yes", "Quixotic marmalade")
	s.AddPhone("+14405550142")
	for _, tc := range []struct {
		line string
		want string // the kind found, "" for none
	}{
		{`level=INFO msg="message sent" to=***0142 conversation=7`, ""},
		{`level=INFO msg=reply body="yes" all good`, ""},
		{`level=WARN msg="create campaign" err="campaign Oncology follow-up zebulon"`, "first name"},
		{`to=+14405550142`, "phone number"},
		{`To=%2B14405550142&Body=x`, "phone number"},
		{`phone 14405550142`, "phone number"},
		{`phone 4405550142`, "phone number"},
		{`phone (440) 555-0142`, "phone number"},
		{`phone 440-555-0142`, "phone number"},
		{`phone 440.555.0142`, "phone number"},
		{`phone 440 555 0142`, "phone number"},
		{`body="QUIXOTIC MARMALADE"`, "reply"},
		{`Al was here`, ""},
	} {
		leaks := s.Find(tc.line + "\n")
		got := ""
		if len(leaks) > 0 {
			got = leaks[0].Secret.Kind
			if leaks[0].Line != 1 || leaks[0].Text != tc.line || !strings.Contains(leaks[0].String(), tc.line) {
				t.Errorf("%q: leak %+v", tc.line, leaks[0])
			}
		}
		if got != tc.want {
			t.Errorf("%q: found %q; want %q", tc.line, got, tc.want)
		}
	}
	if leaks := s.Find("ok\n+14405550142\nok\nZebulon +14405550142\n"); len(leaks) != 2 || leaks[0].Line != 2 || leaks[1].Line != 4 {
		t.Errorf("found %v; want lines 2 and 4", leaks)
	}
}

func TestAddPhoneRefusesOtherNumbers(t *testing.T) {
	for _, p := range []string{"4405550142", "+442071838750", "+1440555014x"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("AddPhone(%q) did not panic", p)
				}
			}()
			var s Secrets
			s.AddPhone(p)
		}()
	}
}
