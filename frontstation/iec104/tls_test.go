package iec104

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hmi/internal/testpki"
)

// tlsPair runs one TLS connection between a controlled station configured
// with srv and a controlling one configured with cli, over loopback, and
// returns each side's error (nil when STARTDT went through).
func tlsPair(t *testing.T, srv, cli TLSConfig) (srvErr, cliErr error) {
	t.Helper()
	sconf, err := srv.Server()
	if err != nil {
		t.Fatal(err)
	}
	cconf, err := cli.Client()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srvDone := make(chan error, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			srvDone <- err
			return
		}
		tc := tls.Server(nc, sconf)
		if err := tc.HandshakeContext(ctx); err != nil {
			tc.Close()
			srvDone <- err
			return
		}
		c, err := NewConn(tc, Options{Role: Controlled, Config: DefaultConfig()})
		if err != nil {
			srvDone <- err
			return
		}
		go c.Run(ctx)
		srvDone <- nil
		<-ctx.Done()
	}()
	nc, err := Dial(ctx, ln.Addr().String(), time.Second, cconf)
	if err == nil {
		c, _ := NewConn(nc, Options{Role: Controlling, Config: DefaultConfig()})
		go c.Run(ctx)
		cliErr = c.StartDT(ctx)
		c.Close()
	} else {
		cliErr = err
	}
	return <-srvDone, cliErr
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	ca1, ca2 := testpki.NewCA(t, dir, "ca1"), testpki.NewCA(t, dir, "ca2")
	now := time.Now()
	srv := ca1.Issue(t, dir, "rtu", nil)
	cli := ca1.Issue(t, dir, "hmi", nil)
	rogue := ca2.Issue(t, dir, "rogue", nil)
	old := ca1.Issue(t, dir, "expired", func(c *x509.Certificate) { c.NotBefore, c.NotAfter = now.Add(-48*time.Hour), now.Add(-24*time.Hour) })
	srvX, cliX := srv.Cert, cli.Cert

	server := TLSConfig{CertFile: srv.CertFile, KeyFile: srv.KeyFile, CAFile: ca1.File}
	client := TLSConfig{CertFile: cli.CertFile, KeyFile: cli.KeyFile, CAFile: ca1.File}
	with := func(c TLSConfig, f func(*TLSConfig)) TLSConfig { f(&c); return c }

	for _, tc := range []struct {
		name            string
		srv, cli        TLSConfig
		srvWant, cliWnt error // nil: must succeed; errAny: must fail somehow
	}{
		{name: "CN-only certificates from the configured CA", srv: server, cli: client},
		{name: "pinned server certificate",
			srv: server, cli: with(client, func(c *TLSConfig) { c.Pins = []string{Fingerprint(srvX)} })},
		{name: "pinned client certificate, colon notation",
			srv: with(server, func(c *TLSConfig) { c.Pins = []string{colons(Fingerprint(cliX))} }), cli: client},
		{name: "server certificate not pinned",
			srv: server, cli: with(client, func(c *TLSConfig) { c.Pins = []string{Fingerprint(cliX)} }),
			srvWant: errAny, cliWnt: ErrPeerNotPinned},
		{name: "client certificate not pinned",
			srv: with(server, func(c *TLSConfig) { c.Pins = []string{Fingerprint(srvX)} }), cli: client,
			srvWant: ErrPeerNotPinned, cliWnt: errAny},
		{name: "server certificate from another CA",
			srv: with(server, func(c *TLSConfig) { c.CertFile, c.KeyFile = rogue.CertFile, rogue.KeyFile }), cli: client,
			srvWant: errAny, cliWnt: ErrPeerUntrusted},
		{name: "client certificate from another CA",
			srv: server, cli: with(client, func(c *TLSConfig) { c.CertFile, c.KeyFile = rogue.CertFile, rogue.KeyFile }),
			srvWant: ErrPeerUntrusted, cliWnt: errAny},
		{name: "expired server certificate",
			srv: with(server, func(c *TLSConfig) { c.CertFile, c.KeyFile = old.CertFile, old.KeyFile }), cli: client,
			srvWant: errAny, cliWnt: ErrPeerUntrusted},
		{name: "station name checked, CN-only certificate",
			srv: server, cli: with(client, func(c *TLSConfig) { c.PeerName = "rtu" })},
		{name: "station name mismatch",
			srv: server, cli: with(client, func(c *TLSConfig) { c.PeerName = "rtu-south" }),
			srvWant: errAny, cliWnt: ErrPeerName},
		{name: "client trusts only another CA",
			srv: server, cli: with(client, func(c *TLSConfig) { c.CAFile = ca2.File }),
			srvWant: errAny, cliWnt: ErrPeerUntrusted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srvErr, cliErr := tlsPair(t, tc.srv, tc.cli)
			check := func(side string, got, want error) {
				t.Helper()
				switch {
				case want == nil && got != nil:
					t.Errorf("%s: got %v, want success", side, got)
				case want == errAny && got == nil, want != nil && want != errAny && !errors.Is(got, want):
					t.Errorf("%s: got %v, want %v", side, got, want)
				}
			}
			check("controlled station", srvErr, tc.srvWant)
			check("controlling station", cliErr, tc.cliWnt)
			if cliErr != nil {
				t.Logf("controlling station refused with: %v", cliErr)
			}
			if srvErr != nil {
				t.Logf("controlled station refused with: %v", srvErr)
			}
		})
	}
}

var errAny = errors.New("any error")

func colons(hex string) string {
	out := ""
	for i := 0; i < len(hex); i += 2 {
		if i > 0 {
			out += ":"
		}
		out += hex[i : i+2]
	}
	return out
}

func TestTLSClientConfig(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, dir, "ca")
	hmi := ca.Issue(t, dir, "hmi", nil)
	cert, key := hmi.CertFile, hmi.KeyFile
	c, err := TLSConfig{CertFile: cert, KeyFile: key, CAFile: ca.File}.Client()
	if err != nil {
		t.Fatal(err)
	}
	// TLS 1.2 outstations renegotiate periodically (lib60870's example every
	// 2 s); Go's default refuses, which kills the connection.
	if c.Renegotiation != tls.RenegotiateFreelyAsClient {
		t.Errorf("Renegotiation = %v, want RenegotiateFreelyAsClient", c.Renegotiation)
	}
	if c.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion = %x, want TLS 1.2", c.MinVersion)
	}
	for name, bad := range map[string]TLSConfig{
		"missing key":    {CertFile: cert, KeyFile: filepath.Join(dir, "none"), CAFile: ca.File},
		"CA not PEM":     {CertFile: cert, KeyFile: key, CAFile: key},
		"pin not SHA256": {CertFile: cert, KeyFile: key, CAFile: ca.File, Pins: []string{"abcd"}},
	} {
		if _, err := bad.Client(); err == nil {
			t.Errorf("%s: Client() accepted %+v", name, bad)
		}
	}
}

func TestPlainTCPToTLSPortFails(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, dir, "ca")
	rtu := ca.Issue(t, dir, "rtu", nil)
	sconf, err := TLSConfig{CertFile: rtu.CertFile, KeyFile: rtu.KeyFile, CAFile: ca.File}.Server()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srvErr := make(chan error, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			srvErr <- err
			return
		}
		defer nc.Close()
		srvErr <- tls.Server(nc, sconf).HandshakeContext(ctx)
	}()
	nc, err := Dial(ctx, ln.Addr().String(), time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := NewConn(nc, Options{Role: Controlling, Config: DefaultConfig()})
	runErr := make(chan error, 1)
	go func() { runErr <- c.Run(ctx) }()
	if err := c.StartDT(ctx); err == nil {
		t.Fatal("STARTDT over plain TCP to a TLS port succeeded")
	}
	if err := <-srvErr; err == nil {
		t.Fatal("TLS server accepted a plain IEC 104 client")
	}
	if err := <-runErr; err == nil {
		t.Fatal("Run ended without error")
	} else {
		t.Logf("controlling station: %v", err)
	}
}

func TestPeerVerifierName(t *testing.T) {
	ca := testpki.NewCA(t, t.TempDir(), "ca")
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	cnOnly := ca.Issue(t, "", "rtu-north", nil).Cert
	cnIP := ca.Issue(t, "", "10.1.2.3", nil).Cert
	sans := ca.Issue(t, "", "rtu-north", func(c *x509.Certificate) {
		c.DNSNames = []string{"rtu-n.example", "*.rtu.example"}
		c.IPAddresses = []net.IP{net.IPv4(10, 1, 2, 3), net.IPv6loopback}
	}).Cert
	for _, tc := range []struct {
		cert *x509.Certificate
		name string
		ok   bool
		msg  string // in the error
	}{
		{cnOnly, "", true, ""},
		{cnOnly, "rtu-north", true, ""},
		{cnOnly, "RTU-North.", true, ""},
		{cnOnly, "rtu-south", false, `want "rtu-south", subject "CN=rtu-north" has no DNS or IP subjectAltName and common name "rtu-north"`},
		{cnIP, "10.1.2.3", true, ""},
		{cnIP, "10.1.2.4", false, `common name "10.1.2.3"`},
		{sans, "rtu-n.example", true, ""},
		{sans, "RTU-N.example", true, ""},
		{sans, "a.rtu.example", true, ""},
		{sans, "a.b.rtu.example", false, "DNS:*.rtu.example"},
		{sans, "10.1.2.3", true, ""},
		{sans, "::1", true, ""},
		{sans, "10.1.2.4", false, `want "10.1.2.4", subject "CN=rtu-north" has subjectAltName DNS:rtu-n.example, DNS:*.rtu.example, IP:10.1.2.3, IP:::1`},
		// With subjectAltNames the common name does not count.
		{sans, "rtu-north", false, "peer certificate name mismatch"},
	} {
		err := PeerVerifier{Roots: roots, Name: tc.name}.Verify(tls.ConnectionState{PeerCertificates: []*x509.Certificate{tc.cert}})
		switch {
		case tc.ok && err != nil:
			t.Errorf("%s, name %q: %v", tc.cert.Subject, tc.name, err)
		case !tc.ok && !errors.Is(err, ErrPeerName):
			t.Errorf("%s, name %q: got %v, want ErrPeerName", tc.cert.Subject, tc.name, err)
		case !tc.ok && !strings.Contains(err.Error(), tc.msg):
			t.Errorf("%s, name %q: %q does not say %q", tc.cert.Subject, tc.name, err, tc.msg)
		}
	}
	// The chain is checked before the name, the name before the pins.
	other := testpki.NewCA(t, t.TempDir(), "other")
	rogue := other.Issue(t, "", "rtu-north", nil).Cert
	if err := (PeerVerifier{Roots: roots, Name: "rtu-north"}).Verify(tls.ConnectionState{PeerCertificates: []*x509.Certificate{rogue}}); !errors.Is(err, ErrPeerUntrusted) {
		t.Errorf("certificate of another CA with the right name: got %v, want ErrPeerUntrusted", err)
	}
	v := PeerVerifier{Roots: roots, Name: "rtu-south", Pins: [][32]byte{{1}}}
	if err := v.Verify(tls.ConnectionState{PeerCertificates: []*x509.Certificate{cnOnly}}); !errors.Is(err, ErrPeerName) {
		t.Errorf("wrong name, not pinned: got %v, want ErrPeerName", err)
	}
}

func TestPeerVerifierValidity(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, dir, "ca")
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	notAfter := time.Now().Add(-24 * time.Hour).Truncate(time.Second)
	notBefore := time.Now().Add(24 * time.Hour).Truncate(time.Second)
	expired := ca.Issue(t, "", "old", func(c *x509.Certificate) { c.NotBefore, c.NotAfter = notAfter.Add(-time.Hour), notAfter }).Cert
	future := ca.Issue(t, "", "new", func(c *x509.Certificate) { c.NotBefore, c.NotAfter = notBefore, notBefore.Add(time.Hour) }).Cert
	for _, tc := range []struct {
		cert *x509.Certificate
		want error
		msg  string
	}{
		{expired, ErrPeerExpired, `peer certificate not trusted: subject "CN=old": certificate expired at ` + notAfter.UTC().Format(time.RFC3339)},
		{future, ErrPeerNotYetValid, `peer certificate not trusted: subject "CN=new": certificate not yet valid: valid from ` + notBefore.UTC().Format(time.RFC3339)},
	} {
		err := PeerVerifier{Roots: roots}.Verify(tls.ConnectionState{PeerCertificates: []*x509.Certificate{tc.cert}})
		if !errors.Is(err, tc.want) || !errors.Is(err, ErrPeerUntrusted) {
			t.Errorf("%s: got %v, want %v and %v", tc.cert.Subject, err, tc.want, ErrPeerUntrusted)
			continue
		}
		if !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%q does not say %q", err, tc.msg)
		}
		var inv x509.CertificateInvalidError
		if !errors.As(err, &inv) {
			t.Errorf("%v: the x509 error is not kept", err)
		}
	}
}
