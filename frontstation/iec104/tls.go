package iec104

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// TLS errors, for security events; branch with errors.Is.
var (
	ErrPeerUntrusted = errors.New("peer certificate not trusted")
	ErrPeerNotPinned = errors.New("peer certificate not pinned")
	ErrNoPeerCert    = errors.New("peer sent no certificate")
)

// TLSConfig describes the IEC 62351-3 side of a link: our certificate, the
// CA that signs the peer's, and optionally the SHA-256 fingerprints of the
// only peer certificates accepted.
type TLSConfig struct {
	CertFile string   // our certificate chain (PEM)
	KeyFile  string   // our private key (PEM)
	CAFile   string   // CA certificates that sign the peer's certificate (PEM)
	Pins     []string // SHA-256 of the peer's leaf certificate (DER), hex, colons allowed; empty: any certificate the CA signed
}

// PeerVerifier checks a peer certificate chain against a CA pool without
// host names (devices often carry CN-only certificates) and against the pins.
type PeerVerifier struct {
	Roots *x509.CertPool
	Pins  [][sha256.Size]byte
}

// Verify checks the chain the peer presented.
func (v PeerVerifier) Verify(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return ErrNoPeerCert
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots:         v.Roots,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}); err != nil {
		return fmt.Errorf("iec104: %w: subject %q: %w", ErrPeerUntrusted, leaf.Subject.String(), err)
	}
	if len(v.Pins) == 0 {
		return nil
	}
	sum := sha256.Sum256(leaf.Raw)
	for _, p := range v.Pins {
		if p == sum {
			return nil
		}
	}
	return fmt.Errorf("iec104: %w: subject %q, SHA-256 %x", ErrPeerNotPinned, leaf.Subject.String(), sum)
}

// Fingerprint returns the SHA-256 of a certificate's DER, in hex, as pins are written.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}

func (t TLSConfig) load() (tls.Certificate, PeerVerifier, error) {
	var v PeerVerifier
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return cert, v, fmt.Errorf("iec104: tls: certificate %s, key %s: %w", t.CertFile, t.KeyFile, err)
	}
	pem, err := os.ReadFile(t.CAFile)
	if err != nil {
		return cert, v, fmt.Errorf("iec104: tls: CA: %w", err)
	}
	v.Roots = x509.NewCertPool()
	if !v.Roots.AppendCertsFromPEM(pem) {
		return cert, v, fmt.Errorf("iec104: tls: CA %s: no PEM certificate found", t.CAFile)
	}
	for _, p := range t.Pins {
		h := strings.ReplaceAll(strings.TrimSpace(p), ":", "")
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != sha256.Size {
			return cert, v, fmt.Errorf("iec104: tls: pin %q is not a SHA-256 in hex", p)
		}
		v.Pins = append(v.Pins, [sha256.Size]byte(b))
	}
	return cert, v, nil
}

// Client returns the configuration of the controlling station: TLS 1.2 or
// later, our certificate for the peer, the peer's chain verified against the
// CA (host names ignored) and the pins, and renegotiation accepted, as TLS
// 1.2 outstations renegotiate periodically (IEC104.md section 10).
func (t TLSConfig) Client() (*tls.Config, error) {
	cert, v, err := t.load()
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		// Verification is done by VerifyConnection, without host names.
		InsecureSkipVerify: true,
		VerifyConnection:   v.Verify,
		Renegotiation:      tls.RenegotiateFreelyAsClient,
	}, nil
}

// Server returns the configuration of the controlled station: TLS 1.2 or
// later and a client certificate required and verified against the CA and
// the pins.
func (t TLSConfig) Server() (*tls.Config, error) {
	cert, v, err := t.load()
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:       tls.VersionTLS12,
		Certificates:     []tls.Certificate{cert},
		ClientAuth:       tls.RequireAnyClientCert,
		VerifyConnection: v.Verify,
	}, nil
}
