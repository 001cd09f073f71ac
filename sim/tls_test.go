package sim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"hmi/frontstation/iec104"
)

// testAuthority is a certificate authority made for one test.
type testAuthority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string // PEM of cert
}

func serialNumber(t *testing.T) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func newAuthority(t *testing.T, dir, name string) *testAuthority {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serialNumber(t),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, name+".pem")
	writePEM(t, file, "CERTIFICATE", der)
	return &testAuthority{cert: cert, key: key, file: file}
}

// issue makes a certificate and key signed by the authority and returns their files.
func (a *testAuthority) issue(t *testing.T, dir, name string, usage x509.ExtKeyUsage) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serialNumber(t),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, &key.PublicKey, a.key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = filepath.Join(dir, name+".pem")
	keyFile = filepath.Join(dir, name+".key")
	writePEM(t, certFile, "CERTIFICATE", der)
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, keyFile, "PRIVATE KEY", kder)
	return certFile, keyFile
}

func writePEM(t *testing.T, file, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newAuthority(t, dir, "station-ca")
	other := newAuthority(t, dir, "other-ca")
	srvCert, srvKey := ca.issue(t, dir, "rtu", x509.ExtKeyUsageServerAuth)
	goodCert, goodKey := ca.issue(t, dir, "hmi", x509.ExtKeyUsageClientAuth)
	badCert, badKey := other.issue(t, dir, "intruder", x509.ExtKeyUsageClientAuth)

	serverTLS, err := iec104.TLSConfig{CertFile: srvCert, KeyFile: srvKey, CAFile: ca.file}.Server()
	if err != nil {
		t.Fatal(err)
	}
	_, addr := startServer(t, Options{Config: testConfig(t), TLS: serverTLS})

	t.Run("client signed by the station CA", func(t *testing.T) {
		conf, err := iec104.TLSConfig{CertFile: goodCert, KeyFile: goodKey, CAFile: ca.file}.Client()
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
		conf, err := iec104.TLSConfig{CertFile: badCert, KeyFile: badKey, CAFile: ca.file}.Client()
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
		conf, err := iec104.TLSConfig{CertFile: goodCert, KeyFile: goodKey, CAFile: ca.file}.Client()
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
