package config

import (
	"errors"
	"os"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, that it returns either a
// configuration or a non-empty Errors, and that an accepted configuration
// holds what the checks promise.
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("../config.example.yaml"); err == nil {
		f.Add(b)
	}
	for _, tt := range errorCases {
		f.Add([]byte(tt.yaml))
	}
	f.Add([]byte("links: [&a {name: x, addresses: [\"h:1\"], ca: 1, <<: *a}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", data)
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error %v (%T), want non-empty Errors", err, err)
			}
			for _, e := range errs {
				if e.File != "fuzz.yaml" || e.Line < 0 || e.Col < 0 || e.Msg == "" {
					t.Fatalf("bad error %#v", e)
				}
			}
			if c != nil {
				t.Fatal("a configuration and an error")
			}
			return
		}
		for _, l := range c.Links {
			if err := l.APCI().Validate(); err != nil {
				t.Fatalf("accepted link %q: %v", l.Name, err)
			}
		}
		for _, p := range c.Points {
			if c.Link(p.Link) == nil || !p.Kind.Valid() || p.IOA < 1 || p.IOA > maxIOA || p.CA < 1 || p.CA > maxCA {
				t.Fatalf("accepted point %+v", p)
			}
		}
	})
}
