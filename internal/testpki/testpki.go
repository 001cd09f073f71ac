// Package testpki makes X.509 certificate authorities, certificates and keys
// for tests. It is for tests only: nothing but _test.go files may import it.
//
// Every key is ECDSA P-256. Certificates are written in PEM, keys in PKCS #8
// PEM ("PRIVATE KEY"), all with mode 0600. Serial numbers are unique within
// the test binary.
package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// CA is a certificate authority made for a test.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	File string // PEM of Cert; empty when made without a directory
}

// Leaf is a certificate with its key: one a CA issued, or a self-signed one.
type Leaf struct {
	Cert     *x509.Certificate
	Key      *ecdsa.PrivateKey
	CertFile string // PEM of Cert; empty when made without a directory
	KeyFile  string // PEM of Key; empty when made without a directory
}

var serial atomic.Int64

// NewCA makes a CA with common name name, valid from 48 hours ago to 48 hours
// from now (it covers the expired and not yet valid certificates tests
// issue), and writes its certificate to dir/name.pem, unless dir is "".
func NewCA(t testing.TB, dir, name string) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-48 * time.Hour),
		NotAfter:              time.Now().Add(48 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	ca := &CA{Cert: sign(t, tmpl, tmpl, key, key), Key: key}
	if dir != "" {
		ca.File = filepath.Join(dir, name+".pem")
		writePEM(t, ca.File, "CERTIFICATE", ca.Cert.Raw)
	}
	return ca
}

// Issue makes a certificate the CA signs, with common name name and nothing
// else to name it (no subjectAltName, as devices often have), valid from an
// hour ago to an hour from now, for digital signatures, for server and client
// authentication; mod, when not nil, changes the template before it is
// signed (validity, subjectAltNames, key usages). Issue writes the
// certificate to dir/name.pem and its key to dir/name-key.pem, unless dir is "".
func (ca *CA) Issue(t testing.TB, dir, name string, mod func(*x509.Certificate)) Leaf {
	t.Helper()
	return leaf(t, dir, name, mod, ca.Cert, ca.Key)
}

// SelfSigned makes a self-signed certificate as Issue does.
func SelfSigned(t testing.TB, dir, name string, mod func(*x509.Certificate)) Leaf {
	t.Helper()
	return leaf(t, dir, name, mod, nil, nil)
}

// leaf makes the certificate of Issue, signed by parent and its key, or
// self-signed when parent is nil.
func leaf(t testing.TB, dir, name string, mod func(*x509.Certificate), parent *x509.Certificate, parentKey *ecdsa.PrivateKey) Leaf {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: name},
		NotBefore:   time.Now().Add(-time.Hour),
		NotAfter:    time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if mod != nil {
		mod(tmpl)
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	l := Leaf{Cert: sign(t, tmpl, parent, key, parentKey), Key: key}
	if dir != "" {
		l.CertFile, l.KeyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
		writePEM(t, l.CertFile, "CERTIFICATE", l.Cert.Raw)
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		writePEM(t, l.KeyFile, "PRIVATE KEY", der)
	}
	return l
}

// sign gives tmpl the next serial number and makes the certificate of key's
// public half that parent's key signs.
func sign(t testing.TB, tmpl, parent *x509.Certificate, key, parentKey *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	tmpl.SerialNumber = big.NewInt(serial.Add(1))
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePEM(t testing.TB, file, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
