package iec104

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

// TLS errors, for security events; branch with errors.Is. An expired or
// not yet valid certificate is also ErrPeerUntrusted.
var (
	ErrPeerUntrusted   = errors.New("peer certificate not trusted")
	ErrPeerExpired     = errors.New("certificate expired")
	ErrPeerNotYetValid = errors.New("certificate not yet valid")
	ErrPeerNotPinned   = errors.New("peer certificate not pinned")
	ErrPeerName        = errors.New("peer certificate name mismatch")
	ErrNoPeerCert      = errors.New("peer sent no certificate")
)

// TLSConfig describes the IEC 62351-3 side of a link: our certificate, the
// CA that signs the peer's, and optionally the SHA-256 fingerprints of the
// only peer certificates accepted.
type TLSConfig struct {
	CertFile string   // our certificate chain (PEM)
	KeyFile  string   // our private key (PEM)
	CAFile   string   // CA certificates that sign the peer's certificate (PEM)
	Pins     []string // SHA-256 of the peer's leaf certificate (DER), hex, colons allowed; empty: any certificate the CA signed
	PeerName string   // when set, the name the peer's leaf certificate must carry (see PeerVerifier.Name); empty: names not checked
}

// PeerVerifier checks a peer certificate chain against a CA pool, the
// validity period included, then its name when Name is set, then the pins.
// The address dialled is never taken for a name: devices are addressed by IP
// and often carry CN-only certificates.
type PeerVerifier struct {
	Roots *x509.CertPool
	Pins  [][sha256.Size]byte
	// Name, when set, must be one of the leaf certificate's DNS or IP
	// subjectAltNames (DNS wildcards match, case is ignored), or, in a
	// certificate with no DNS or IP subjectAltName, its common name.
	Name string
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
		return untrusted(leaf, err)
	}
	if v.Name != "" {
		if err := checkName(leaf, v.Name); err != nil {
			return err
		}
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

// untrusted says why the chain of leaf did not verify; for a certificate out
// of its validity period, which one and when it expired or becomes valid.
func untrusted(leaf *x509.Certificate, err error) error {
	var inv x509.CertificateInvalidError
	if errors.As(err, &inv) && inv.Reason == x509.Expired && inv.Cert != nil {
		which := ""
		if inv.Cert != leaf {
			which = fmt.Sprintf("issuer %q: ", inv.Cert.Subject.String())
		}
		now := time.Now().UTC()
		if now.Before(inv.Cert.NotBefore) {
			return fmt.Errorf("iec104: %w: subject %q: %s%w: valid from %s (now %s)%.0w", ErrPeerUntrusted, leaf.Subject.String(),
				which, ErrPeerNotYetValid, inv.Cert.NotBefore.UTC().Format(time.RFC3339), now.Format(time.RFC3339), err)
		}
		return fmt.Errorf("iec104: %w: subject %q: %s%w at %s (now %s)%.0w", ErrPeerUntrusted, leaf.Subject.String(),
			which, ErrPeerExpired, inv.Cert.NotAfter.UTC().Format(time.RFC3339), now.Format(time.RFC3339), err)
	}
	return fmt.Errorf("iec104: %w: subject %q: %w", ErrPeerUntrusted, leaf.Subject.String(), err)
}

// checkName checks that leaf carries name: as a DNS or IP subjectAltName,
// or as its common name when it has neither.
func checkName(leaf *x509.Certificate, name string) error {
	if len(leaf.DNSNames) == 0 && len(leaf.IPAddresses) == 0 {
		cn := leaf.Subject.CommonName
		if ip := net.ParseIP(name); ip != nil {
			if ip.Equal(net.ParseIP(cn)) {
				return nil
			}
		} else if strings.EqualFold(strings.TrimSuffix(cn, "."), strings.TrimSuffix(name, ".")) {
			return nil
		}
		return fmt.Errorf("iec104: %w: want %q, subject %q has no DNS or IP subjectAltName and common name %q",
			ErrPeerName, name, leaf.Subject.String(), cn)
	}
	if leaf.VerifyHostname(name) == nil {
		return nil
	}
	var has []string
	for _, n := range leaf.DNSNames {
		has = append(has, "DNS:"+n)
	}
	for _, ip := range leaf.IPAddresses {
		has = append(has, "IP:"+ip.String())
	}
	return fmt.Errorf("iec104: %w: want %q, subject %q has subjectAltName %s",
		ErrPeerName, name, leaf.Subject.String(), strings.Join(has, ", "))
}

// Fingerprint returns the SHA-256 of a certificate's DER, in hex, as pins are written.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}

func (t TLSConfig) load() (tls.Certificate, PeerVerifier, error) {
	v := PeerVerifier{Name: t.PeerName}
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
// CA, PeerName (when set; the address dialled is not a name) and the pins,
// and renegotiation accepted, as TLS 1.2 outstations renegotiate
// periodically (IEC104.md section 10). PeerName is checked, not sent as SNI.
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
// later and a client certificate required and verified against the CA,
// PeerName (when set) and the pins.
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
