package frontstation

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"hmi/capture"
)

// captureWriter writes one connection's traffic to rotating pcap files in
// the link's capture directory: a new file when the current one exceeds
// MaxBytes, and at most MaxFiles files of the link kept (oldest removed).
type captureWriter struct {
	link        string
	cfg         CaptureConfig
	local, peer netip.AddrPort

	mu   sync.Mutex // guards the fields below
	f    *os.File
	w    *capture.Writer
	size countingWriter
	err  error // the first error; writing stops after it
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func addrPort(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.AddrPort()
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

func openCapture(link string, cfg CaptureConfig, nc net.Conn) (*captureWriter, error) {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 10 << 20
	}
	if cfg.MaxFiles <= 0 {
		cfg.MaxFiles = 10
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("frontstation: capture: %w", err)
	}
	w := &captureWriter{link: link, cfg: cfg, local: addrPort(nc.LocalAddr()), peer: addrPort(nc.RemoteAddr())}
	if err := w.rotate(time.Now()); err != nil {
		return nil, err
	}
	return w, nil
}

// rotate closes the current file and starts the next. Call with mu held (or
// before the writer is shared).
func (w *captureWriter) rotate(now time.Time) error {
	if w.f != nil {
		w.w.Close(now)
		w.f.Close()
	}
	name := filepath.Join(w.cfg.Dir, fmt.Sprintf("%s-%s.pcap", w.link, now.UTC().Format("20060102T150405.000000000")))
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("frontstation: capture: %w", err)
	}
	w.f, w.size = f, countingWriter{w: f}
	if w.w, err = capture.NewWriter(&w.size, w.local, w.peer); err != nil {
		f.Close()
		return fmt.Errorf("frontstation: capture %s: %w", name, err)
	}
	w.prune()
	return nil
}

// prune removes the oldest files of the link beyond MaxFiles.
func (w *captureWriter) prune() {
	files, _ := filepath.Glob(filepath.Join(w.cfg.Dir, w.link+"-*.pcap"))
	var own []string
	for _, f := range files {
		// Only this link's files: the rest of the name is the timestamp.
		if rest := strings.TrimPrefix(filepath.Base(f), w.link+"-"); len(rest) > 0 && rest[0] >= '0' && rest[0] <= '9' {
			own = append(own, f)
		}
	}
	sort.Strings(own)
	for len(own) > w.cfg.MaxFiles {
		os.Remove(own[0])
		own = own[1:]
	}
}

func (w *captureWriter) write(now time.Time, sent bool, apdu []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return
	}
	if w.size.n >= w.cfg.MaxBytes {
		if w.err = w.rotate(now); w.err != nil {
			return
		}
	}
	w.err = w.w.WriteAPDU(now, sent, apdu)
}

func (w *captureWriter) close(now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f != nil {
		w.w.Close(now)
		w.f.Close()
		w.f = nil
	}
	if w.err == nil {
		w.err = os.ErrClosed
	}
}
