package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written as Go writes durations: a number with
// a unit (ns, us, ms, s, m, h), several parts allowed ("1m30s"). A bare 0
// needs no unit. Durations in the file are never negative.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String returns d as time.Duration.String does ("1m30s").
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration (want a number with a unit: 500ms, 30s, 5m, 1h)", s)
	}
	if v < 0 {
		return fmt.Errorf("duration %q is negative", s)
	}
	*d = Duration(v)
	return nil
}

// ByteSize is a size in bytes, written as a whole number of bytes or a
// number with a unit: B, kB or KB (1000), MB (1000²), GB (1000³), KiB
// (1024), MiB (1024²), GiB (1024³). "10MB" is 10 000 000 bytes; "1.5GiB"
// is allowed and rounded down to a whole byte. A size is never negative.
type ByteSize int64

// byteUnits are the units of ByteSize, longest first where one is a suffix
// of another.
var byteUnits = []struct {
	name string
	mult int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"B", 1},
}

var errByteSize = errors.New("bad size")

// String returns the size with the largest unit that divides it ("10MB",
// "64KiB", "1234B").
func (s ByteSize) String() string {
	for _, u := range []struct {
		name string
		mult int64
	}{{"TiB", 1 << 40}, {"TB", 1e12}, {"GiB", 1 << 30}, {"GB", 1e9}, {"MiB", 1 << 20}, {"MB", 1e6}, {"KiB", 1 << 10}, {"kB", 1e3}} {
		if s != 0 && int64(s)%u.mult == 0 {
			return strconv.FormatInt(int64(s)/u.mult, 10) + u.name
		}
	}
	return strconv.FormatInt(int64(s), 10) + "B"
}

// MarshalText implements encoding.TextMarshaler.
func (s ByteSize) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *ByteSize) UnmarshalText(b []byte) error {
	v, err := parseByteSize(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("%q is not a size (want bytes or a number with a unit: 512KiB, 10MB, 1GB)", string(b))
	}
	*s = v
	return nil
}

func parseByteSize(t string) (ByteSize, error) {
	num, mult := t, int64(1)
	for _, u := range byteUnits {
		if n, ok := strings.CutSuffix(t, u.name); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	if num == "" {
		return 0, errByteSize
	}
	if n, err := strconv.ParseInt(num, 10, 64); err == nil {
		if n < 0 || n > math.MaxInt64/mult {
			return 0, errByteSize
		}
		return ByteSize(n * mult), nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(f) || f < 0 || f*float64(mult) >= math.MaxInt64 {
		return 0, errByteSize
	}
	return ByteSize(f * float64(mult)), nil
}
