package verify

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Password length limits, in bytes, enforced by [HashPassword].
const (
	MinPasswordLen = 12
	MaxPasswordLen = 1024
)

// Argon2id parameters of new hashes: OWASP's recommended minimum
// (19 MiB, 2 passes, 1 lane). [CheckPassword] reads the parameters from
// each hash, so they can be raised later without invalidating old hashes.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32
)

// Limits on the parameters [CheckPassword] accepts from a hash, so that a
// corrupt or hostile hash cannot make a check take gigabytes or minutes.
const (
	maxArgonMemory  = 1 << 20 // KiB: 1 GiB
	maxArgonTime    = 64
	maxArgonThreads = 64
)

// ErrPasswordTooShort and ErrPasswordTooLong are returned by
// [HashPassword] for a password outside the accepted lengths.
var (
	ErrPasswordTooShort = fmt.Errorf("verify: password too short: use at least %d characters", MinPasswordLen)
	ErrPasswordTooLong  = fmt.Errorf("verify: password too long: use at most %d bytes", MaxPasswordLen)
)

// ErrBadHash is returned by [CheckPassword] and [New] for a stored hash
// that is not an argon2id hash written by [HashPassword]. Regenerate it.
var ErrBadHash = errors.New("verify: the stored password hash is not a valid argon2id hash; generate a new one with HashPassword")

var b64 = base64.RawStdEncoding

// HashPassword returns an argon2id hash of plain with a random salt, in
// the PHC string format that [CheckPassword] reads:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>
//
// Store the hash, never plain. A password shorter than [MinPasswordLen]
// characters or longer than [MaxPasswordLen] bytes is refused.
func HashPassword(plain string) (string, error) {
	if len([]rune(plain)) < MinPasswordLen || strings.TrimSpace(plain) == "" {
		return "", ErrPasswordTooShort
	}
	if len(plain) > MaxPasswordLen {
		return "", ErrPasswordTooLong
	}
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("verify: reading random salt: %w", err)
	}
	key := argon2.IDKey([]byte(plain), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPassword reports whether plain matches hash, a hash written by
// [HashPassword]: nil if it does, [ErrWrongPassword] if not, an error
// matching [ErrBadHash] if hash cannot be read. The comparison takes
// constant time.
func CheckPassword(hash, plain string) error {
	h, err := parseHash(hash)
	if err != nil {
		return err
	}
	if !h.matches(plain) {
		return ErrWrongPassword
	}
	return nil
}

// argonHash is a parsed argon2id PHC string.
type argonHash struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

func parseHash(s string) (argonHash, error) {
	var h argonHash
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return h, ErrBadHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return h, ErrBadHash
	}
	var m, t, p uint64
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || n != 3 ||
		m < 8 || m > maxArgonMemory || t < 1 || t > maxArgonTime || p < 1 || p > maxArgonThreads ||
		fmt.Sprintf("m=%d,t=%d,p=%d", m, t, p) != parts[3] {
		return h, ErrBadHash
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return h, ErrBadHash
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return h, ErrBadHash
	}
	return argonHash{memory: uint32(m), time: uint32(t), threads: uint8(p), salt: salt, key: key}, nil
}

// matches reports in constant time whether plain hashes to h.key. A
// password too long to have been hashed still costs a full hash.
func (h argonHash) matches(plain string) bool {
	tooLong := len(plain) > MaxPasswordLen
	if tooLong {
		plain = plain[:MaxPasswordLen]
	}
	key := argon2.IDKey([]byte(plain), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(key, h.key) == 1 && !tooLong
}
