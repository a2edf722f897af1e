package verify_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/patient-outreach/sms/verify"
	"golang.org/x/crypto/argon2"
)

// cheapHash returns an argon2id hash of plain with tiny parameters, so that
// the login tests run fast; CheckPassword reads the parameters from it.
func cheapHash(plain string) string {
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte(plain), salt, 1, 8, 1, 32)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=19$m=8,t=1,p=1$%s$%s", enc.EncodeToString(salt), enc.EncodeToString(key))
}

func TestHashPassword(t *testing.T) {
	const pw = "correct horse battery staple"
	h1, err := verify.HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := verify.HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	if h1 == h2 {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	if !strings.HasPrefix(h1, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q is not a PHC argon2id string with the expected parameters", h1)
	}
	if strings.Contains(h1, pw) {
		t.Error("the hash contains the password")
	}
	for _, h := range []string{h1, h2} {
		if err := verify.CheckPassword(h, pw); err != nil {
			t.Errorf("CheckPassword(right password) = %v", err)
		}
		for _, wrong := range []string{"", "correct horse battery stapl", "Correct horse battery staple", pw + " "} {
			if err := verify.CheckPassword(h, wrong); !errors.Is(err, verify.ErrWrongPassword) {
				t.Errorf("CheckPassword(%q) = %v; want ErrWrongPassword", wrong, err)
			}
		}
	}
}

func TestHashPasswordRefused(t *testing.T) {
	for _, tc := range []struct {
		pw   string
		want error
	}{
		{"", verify.ErrPasswordTooShort},
		{"abc12", verify.ErrPasswordTooShort},
		{"elevenchars", verify.ErrPasswordTooShort},
		{"            ", verify.ErrPasswordTooShort},
		{"ééééééééééé", verify.ErrPasswordTooShort}, // 11 characters, 22 bytes
		{strings.Repeat("x", verify.MaxPasswordLen+1), verify.ErrPasswordTooLong},
	} {
		h, err := verify.HashPassword(tc.pw)
		if !errors.Is(err, tc.want) {
			t.Errorf("HashPassword(%.20q) = %q, %v; want %v", tc.pw, h, err, tc.want)
		}
		if err != nil && strings.TrimSpace(tc.pw) != "" && strings.Contains(err.Error(), tc.pw) {
			t.Errorf("error %q contains the password", err)
		}
	}
	if _, err := verify.HashPassword("twelve chars"); err != nil {
		t.Errorf("HashPassword of 12 characters: %v", err)
	}
}

func TestCheckPasswordParameters(t *testing.T) {
	// A hash with other parameters than HashPassword's still checks.
	h := cheapHash("another password")
	if err := verify.CheckPassword(h, "another password"); err != nil {
		t.Errorf("CheckPassword = %v", err)
	}
	if err := verify.CheckPassword(h, "another passwore"); !errors.Is(err, verify.ErrWrongPassword) {
		t.Errorf("CheckPassword(wrong) = %v", err)
	}
	// A password longer than any hashed one never matches, even when
	// its first MaxPasswordLen bytes do.
	long := strings.Repeat("y", verify.MaxPasswordLen)
	hl := cheapHash(long)
	if err := verify.CheckPassword(hl, long); err != nil {
		t.Errorf("CheckPassword(max length) = %v", err)
	}
	if err := verify.CheckPassword(hl, long+"z"); !errors.Is(err, verify.ErrWrongPassword) {
		t.Errorf("CheckPassword(too long) = %v; want ErrWrongPassword", err)
	}
}

func TestCheckPasswordBadHash(t *testing.T) {
	good := cheapHash("another password")
	parts := strings.Split(good, "$")
	with := func(i int, v string) string {
		p := append([]string(nil), parts...)
		p[i] = v
		return strings.Join(p, "$")
	}
	for _, h := range []string{
		"",
		"plaintext password",
		"$2a$10$abcdefghijklmnopqrstuuJ8Qx5cOQeRA4yHqgN8Zc8CY2Pu9Sm8G", // bcrypt
		with(1, "argon2i"),
		with(2, "v=16"),
		with(3, "m=8,t=1"),
		with(3, "m=8,t=0,p=1"),
		with(3, "m=99999999,t=1,p=1"),
		with(3, "m=8,t=1,p=1,x=2"),
		with(3, "m=08,t=1,p=1"),
		with(4, "!!!"),
		with(4, ""),
		with(5, "short"),
		good + "$",
	} {
		if err := verify.CheckPassword(h, "another password"); !errors.Is(err, verify.ErrBadHash) {
			t.Errorf("CheckPassword(%q) = %v; want ErrBadHash", h, err)
		}
	}
}
