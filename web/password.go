package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the cost parameters of argon2id.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
}

// DefaultArgon2 are the parameters HashPassword uses: 64 MiB, one pass, two lanes (the second recommended option
// of RFC 9106), some 50 ms on a server core.
var DefaultArgon2 = Argon2Params{Memory: 64 * 1024, Time: 1, Threads: 2}

const (
	saltLen = 16
	keyLen  = 32
	// MaxPasswordLen bounds the work an attacker can ask for per login attempt.
	MaxPasswordLen = 1024
	// MinPasswordLen is the shortest password HashPassword accepts.
	MinPasswordLen = 8
)

// ErrPassword is wrapped by the error of HashPassword for a password that is too short or too long.
var ErrPassword = errors.New("password not acceptable")

// HashPassword returns the argon2id hash of pw with a fresh random salt, as a PHC string:
// $argon2id$v=19$m=65536,t=1,p=2$SALT$HASH (unpadded standard base64).
func HashPassword(pw string) (string, error) {
	return hashPassword(pw, DefaultArgon2)
}

// HashPasswordParams is HashPassword with other parameters (tests use little memory; CheckPassword reads the
// parameters from the hash).
func HashPasswordParams(pw string, p Argon2Params) (string, error) { return hashPassword(pw, p) }

// hashPassword is HashPassword with other parameters.
func hashPassword(pw string, p Argon2Params) (string, error) {
	if err := checkPasswordLen(pw); err != nil {
		return "", err
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("web: password salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

func checkPasswordLen(pw string) error {
	switch {
	case len(pw) < MinPasswordLen:
		return fmt.Errorf("web: %w: shorter than %d characters", ErrPassword, MinPasswordLen)
	case len(pw) > MaxPasswordLen:
		return fmt.Errorf("web: %w: longer than %d bytes", ErrPassword, MaxPasswordLen)
	}
	return nil
}

// CheckPassword reports whether pw matches hash, a PHC string from HashPassword. The comparison of the derived keys
// takes constant time. A hash that cannot be parsed, or parameters beyond sane bounds, never match.
func CheckPassword(hash, pw string) bool {
	if len(pw) > MaxPasswordLen {
		return false
	}
	p, salt, key, err := parseHash(hash)
	if err != nil {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1
}

// parseHash splits a PHC argon2id string.
func parseHash(s string) (p Argon2Params, salt, key []byte, err error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, errors.New("web: not an argon2id hash")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, errors.New("web: unsupported argon2 version")
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return p, nil, nil, fmt.Errorf("web: argon2 parameters: %w", err)
	}
	// Bounds: a stored hash must not make a login cost gigabytes or minutes.
	if p.Memory < 8 || p.Memory > 1<<21 || p.Time < 1 || p.Time > 16 || p.Threads < 1 || p.Threads > 16 {
		return p, nil, nil, errors.New("web: argon2 parameters out of bounds")
	}
	b64 := base64.RawStdEncoding
	if salt, err = b64.DecodeString(parts[4]); err != nil || len(salt) < 8 {
		return p, nil, nil, errors.New("web: bad argon2 salt")
	}
	if key, err = b64.DecodeString(parts[5]); err != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, errors.New("web: bad argon2 key")
	}
	return p, salt, key, nil
}
