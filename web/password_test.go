package web

import (
	"strings"
	"testing"
)

var cheap = Argon2Params{Memory: 64, Time: 1, Threads: 1}

func TestPasswordHash(t *testing.T) {
	h, err := hashPassword("correct horse", cheap)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") || strings.Count(h, "$") != 5 {
		t.Fatalf("hash %q is not a PHC argon2id string", h)
	}
	if !CheckPassword(h, "correct horse") {
		t.Fatal("the right password does not match")
	}
	for _, wrong := range []string{"", "correct hors", "correct horse ", "Correct horse"} {
		if CheckPassword(h, wrong) {
			t.Errorf("%q matches", wrong)
		}
	}
	h2, _ := hashPassword("correct horse", cheap)
	if h2 == h {
		t.Error("two hashes of one password are equal: no salt")
	}
	// The default parameters, as hmi user uses them.
	d, err := HashPassword("a password of the admin")
	if err != nil || !strings.HasPrefix(d, "$argon2id$v=19$m=65536,t=1,p=2$") || !CheckPassword(d, "a password of the admin") {
		t.Fatalf("default hash %q %v", d, err)
	}
}

func TestPasswordRules(t *testing.T) {
	if _, err := hashPassword("short", cheap); err == nil {
		t.Error("a 5-character password was accepted")
	}
	if _, err := hashPassword(strings.Repeat("x", MaxPasswordLen+1), cheap); err == nil {
		t.Error("an overlong password was accepted")
	}
	if CheckPassword("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$"+strings.Repeat("A", 43), strings.Repeat("x", MaxPasswordLen+1)) {
		t.Error("an overlong password matched")
	}
}

func TestCheckPasswordBadHashes(t *testing.T) {
	good, _ := hashPassword("a good password", cheap)
	parts := strings.Split(good, "$")
	bad := []string{
		"",
		"plain text",
		strings.Replace(good, "argon2id", "argon2i", 1),
		strings.Replace(good, "v=19", "v=16", 1),
		strings.Replace(good, "m=64", "m=99999999", 1), // would cost gigabytes
		strings.Replace(good, "t=1", "t=1000", 1),
		strings.Replace(good, "p=1", "p=0", 1),
		strings.Join(append(parts[:4:4], "!!", parts[5]), "$"),
		strings.Join(append(parts[:5:5], "AAAA"), "$"),
		good + "$extra",
	}
	for _, h := range bad {
		if CheckPassword(h, "a good password") {
			t.Errorf("hash %q matched", h)
		}
	}
}
