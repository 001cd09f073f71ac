package sim

import (
	"crypto/x509"
	"net"
	"testing"

	"hmi/frontstation/iec104"
	"hmi/internal/testpki"
)

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, dir, "station-ca")
	other := testpki.NewCA(t, dir, "other-ca")
	// Certificates for 127.0.0.1 and one use each.
	issue := func(ca *testpki.CA, name string, usage x509.ExtKeyUsage) (certFile, keyFile string) {
		l := ca.Issue(t, dir, name, func(c *x509.Certificate) {
			c.ExtKeyUsage = []x509.ExtKeyUsage{usage}
			c.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		})
		return l.CertFile, l.KeyFile
	}
	srvCert, srvKey := issue(ca, "rtu", x509.ExtKeyUsageServerAuth)
	goodCert, goodKey := issue(ca, "hmi", x509.ExtKeyUsageClientAuth)
	badCert, badKey := issue(other, "intruder", x509.ExtKeyUsageClientAuth)

	serverTLS, err := iec104.TLSConfig{CertFile: srvCert, KeyFile: srvKey, CAFile: ca.File}.Server()
	if err != nil {
		t.Fatal(err)
	}
	_, addr := startServer(t, Options{Config: testConfig(t), TLS: serverTLS})

	t.Run("client signed by the station CA", func(t *testing.T) {
		conf, err := iec104.TLSConfig{CertFile: goodCert, KeyFile: goodKey, CAFile: ca.File}.Client()
		if err != nil {
			t.Fatal(err)
		}
		c := dial(t, addr, conf)
		c.send(hdr(iec104.C_IC_NA_1, iec104.CauseActivation), iec104.Object{Qualifier: 20})
		c.expect(iec104.C_IC_NA_1, iec104.CauseActivationCon, false)
		got, _ := interrogationResult(t, c, iec104.C_IC_NA_1, iec104.CauseInterrogated)
		if len(got) != 12 {
			t.Errorf("%d objects over TLS, want 12", len(got))
		}
	})
	t.Run("client signed by another CA", func(t *testing.T) {
		// The client trusts the station; the station does not trust the client.
		conf, err := iec104.TLSConfig{CertFile: badCert, KeyFile: badKey, CAFile: ca.File}.Client()
		if err != nil {
			t.Fatal(err)
		}
		// With TLS 1.3 the client's handshake ends before the server has
		// checked the client certificate: the refusal shows at the first read.
		if _, err := tryDial(t, addr, conf); err == nil {
			t.Fatal("connection with a client certificate of another CA accepted")
		}
	})
	t.Run("client without certificate", func(t *testing.T) {
		conf, err := iec104.TLSConfig{CertFile: goodCert, KeyFile: goodKey, CAFile: ca.File}.Client()
		if err != nil {
			t.Fatal(err)
		}
		conf.Certificates = nil
		if _, err := tryDial(t, addr, conf); err == nil {
			t.Fatal("connection without a client certificate accepted")
		}
	})
	t.Run("plain TCP client", func(t *testing.T) {
		if _, err := tryDial(t, addr, nil); err == nil {
			t.Fatal("plain TCP connection accepted by a TLS server")
		}
	})
}
