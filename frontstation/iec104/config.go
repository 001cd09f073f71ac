package iec104

import (
	"fmt"
	"time"
)

// Config holds the APCI parameters of a connection (IEC104.md section 3).
type Config struct {
	K  int           // most unacknowledged I-frames sent before the sender stops
	W  int           // acknowledge at the latest after W received I-frames
	T0 time.Duration // connection establishment timeout
	T1 time.Duration // timeout for an acknowledgement of a sent I-frame or a confirmation of a U act
	T2 time.Duration // acknowledge received I-frames at the latest after T2 (T2 < T1)
	T3 time.Duration // send TESTFR act after T3 without receiving anything
}

// DefaultConfig returns the standard's defaults: k=12, w=8, t0=30 s, t1=15 s,
// t2=10 s, t3=20 s. (lib60870 uses t0=10 s; the standard says 30 s.)
func DefaultConfig() Config {
	return Config{K: 12, W: 8, T0: 30 * time.Second, T1: 15 * time.Second, T2: 10 * time.Second, T3: 20 * time.Second}
}

// Validate checks the ranges and the rules t2 < t1 and w <= 2k/3.
func (c Config) Validate() error {
	switch {
	case c.K < 1 || c.K > 32767:
		return fmt.Errorf("iec104: k = %d, want 1..32767", c.K)
	case c.W < 1 || c.W > 32767:
		return fmt.Errorf("iec104: w = %d, want 1..32767", c.W)
	case 3*c.W > 2*c.K:
		return fmt.Errorf("iec104: w = %d exceeds two thirds of k = %d", c.W, c.K)
	case c.T0 <= 0, c.T1 <= 0, c.T2 <= 0, c.T3 <= 0:
		return fmt.Errorf("iec104: timeouts must be positive (t0=%v t1=%v t2=%v t3=%v)", c.T0, c.T1, c.T2, c.T3)
	case c.T2 >= c.T1:
		return fmt.Errorf("iec104: t2 = %v must be less than t1 = %v", c.T2, c.T1)
	}
	return nil
}
