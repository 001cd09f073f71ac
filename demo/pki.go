package demo

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// The files of the demo's public key infrastructure, under DIR/pki.
const (
	CAFile     = "ca.pem"      // the demo CA's certificate
	RTUCert    = "rtu.pem"     // the TLS RTU's certificate (server)
	RTUKey     = "rtu-key.pem" // and its key
	HMICert    = "hmi.pem"     // the HMI's certificate (client)
	HMIKey     = "hmi-key.pem" // and its key
	pkiDir     = "pki"
	certYears  = 10
	caKeyFile  = "ca-key.pem"
	serialBits = 128
)

// EnsurePKI creates, when they do not all exist yet, a CA and the
// certificates of the TLS RTU (server authentication, for 127.0.0.1 and
// localhost) and of the HMI (client authentication) under dir/pki, ECDSA
// P-256, valid for ten years. Keys are written mode 0600. It reports
// whether it created them.
func EnsurePKI(dir string) (created bool, err error) {
	d := filepath.Join(dir, pkiDir)
	all := true
	for _, f := range []string{CAFile, RTUCert, RTUKey, HMICert, HMIKey} {
		if _, err := os.Stat(filepath.Join(d, f)); errors.Is(err, fs.ErrNotExist) {
			all = false
		} else if err != nil {
			return false, fmt.Errorf("demo: %w", err)
		}
	}
	if all {
		return false, nil
	}
	if err := os.MkdirAll(d, 0o700); err != nil {
		return false, fmt.Errorf("demo: %w", err)
	}
	now := time.Now().Add(-time.Hour)
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return false, fmt.Errorf("demo: %w", err)
	}
	caTmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "hmi demo CA", Organization: []string{"hmi demo"}},
		NotBefore:             now,
		NotAfter:              now.AddDate(certYears, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := sign(caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return false, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return false, fmt.Errorf("demo: %w", err)
	}
	leaf := func(cn string, usage x509.ExtKeyUsage) ([]byte, *ecdsa.PrivateKey, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, fmt.Errorf("demo: %w", err)
		}
		t := &x509.Certificate{
			Subject:     pkix.Name{CommonName: cn, Organization: []string{"hmi demo"}},
			NotBefore:   now,
			NotAfter:    now.AddDate(certYears, 0, 0),
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{usage},
		}
		if usage == x509.ExtKeyUsageServerAuth {
			t.DNSNames = []string{"localhost"}
			t.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
		}
		der, err := sign(t, caCert, &key.PublicKey, caKey)
		return der, key, err
	}
	rtuDER, rtuKey, err := leaf("southfield-rtu", x509.ExtKeyUsageServerAuth)
	if err != nil {
		return false, err
	}
	hmiDER, hmiKey, err := leaf("hmi", x509.ExtKeyUsageClientAuth)
	if err != nil {
		return false, err
	}
	files := []struct {
		name string
		typ  string
		der  []byte
		key  *ecdsa.PrivateKey
	}{
		{CAFile, "CERTIFICATE", caDER, nil}, {caKeyFile, "", nil, caKey},
		{RTUCert, "CERTIFICATE", rtuDER, nil}, {RTUKey, "", nil, rtuKey},
		{HMICert, "CERTIFICATE", hmiDER, nil}, {HMIKey, "", nil, hmiKey},
	}
	for _, f := range files {
		typ, der, mode := f.typ, f.der, os.FileMode(0o644)
		if f.key != nil {
			if der, err = x509.MarshalPKCS8PrivateKey(f.key); err != nil {
				return false, fmt.Errorf("demo: %w", err)
			}
			typ, mode = "PRIVATE KEY", 0o600
		}
		data := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
		if err := os.WriteFile(filepath.Join(d, f.name), data, mode); err != nil {
			return false, fmt.Errorf("demo: %w", err)
		}
	}
	return true, nil
}

func sign(t, parent *x509.Certificate, pub *ecdsa.PublicKey, key *ecdsa.PrivateKey) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), serialBits))
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	t.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, t, parent, pub, key)
	if err != nil {
		return nil, fmt.Errorf("demo: certificate %q: %w", t.Subject.CommonName, err)
	}
	return der, nil
}
