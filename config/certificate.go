package config

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// ExpiryWarning is how long before a certificate's NotAfter startup warns about it.
const ExpiryWarning = 30 * 24 * time.Hour

var (
	// Apple's push certificate extensions (Apple WWDR Certification Practice Statement): the
	// APNs environments a certificate may connect to. A universal certificate has both.
	oidAPNsDevelopment = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 6, 3, 1}
	oidAPNsProduction  = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 6, 3, 2}
	// oidUID is the subject attribute userID (RFC 4519), where Apple puts the bundle id.
	oidUID = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}
)

// LoadTLS decodes P12File with P12Password into the client certificate for certificate auth,
// and returns its expiry. It reads legacy files (RC2 or 3DES, as Keychain Access and
// OpenSSL 1 export them) and modern ones (PBES2 with AES-256-CBC and a SHA-256 MAC, OpenSSL 3's
// default), which golang.org/x/crypto/pkcs12 and so apns2's certificate package reject.
// It checks that the key matches the certificate, that the certificate is for BundleID and,
// when Apple's environment extensions are present, for Environment. An expired certificate is
// not an error: the caller decides what to do from NotAfter (see ExpiryWarning).
func (c Certificate) LoadTLS() (cert tls.Certificate, notAfter time.Time, err error) {
	cert, err = c.loadTLS()
	if err != nil {
		return tls.Certificate{}, time.Time{}, fmt.Errorf("load certificate %d: %w", c.ID, err)
	}
	return cert, cert.Leaf.NotAfter, nil
}

// loadTLS is LoadTLS without the certificate id in errors.
func (c Certificate) loadTLS() (tls.Certificate, error) {
	if c.P12File == "" {
		return tls.Certificate{}, errors.New("no p12File: it uses token auth (keyFile)")
	}
	data, err := os.ReadFile(c.P12File)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("p12File: %w", err)
	}
	key, first, rest, err := pkcs12.DecodeChain(data, c.P12Password)
	if errors.Is(err, pkcs12.ErrIncorrectPassword) {
		// Never the password itself: this error is logged.
		return tls.Certificate{}, fmt.Errorf("p12File %s: wrong password (OFFPUSH_APNS_CERTIFICATES_%d_P12PASSWORD or p12PasswordFile)", c.P12File, c.ID)
	}
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("p12File %s: %w", c.P12File, err)
	}
	cert, err := c.tlsCertificate(key, append([]*x509.Certificate{first}, rest...))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("p12File %s: %w", c.P12File, err)
	}
	return cert, nil
}

// tlsCertificate builds the client certificate from a .p12's key and certificates: the leaf is
// the one matching the key, whatever its position; the others are its chain.
func (c Certificate) tlsCertificate(key any, certs []*x509.Certificate) (tls.Certificate, error) {
	signer, ok := key.(crypto.Signer)
	if !ok {
		return tls.Certificate{}, fmt.Errorf("unsupported private key type %T", key)
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	i := slices.IndexFunc(certs, func(x *x509.Certificate) bool { return ok && pub.Equal(x.PublicKey) })
	if i < 0 {
		return tls.Certificate{}, errors.New("no certificate matches the private key")
	}
	leaf := certs[i]
	if err := c.checkLeaf(leaf); err != nil {
		return tls.Certificate{}, err
	}
	out := tls.Certificate{PrivateKey: key, Leaf: leaf, Certificate: [][]byte{leaf.Raw}}
	for j, x := range certs {
		if j != i {
			out.Certificate = append(out.Certificate, x.Raw)
		}
	}
	return out, nil
}

// checkLeaf checks an Apple push certificate is for BundleID and Environment. Apple puts the
// bundle id in the subject's UID; a universal certificate also serves BundleID's sub-topics
// (.voip, .complication, …), and a VoIP Services certificate names BundleID.voip.
// Certificates without that information pass.
func (c Certificate) checkLeaf(leaf *x509.Certificate) error {
	uid := subjectUID(leaf)
	if c.VoIP && uid == c.BundleID+".voip" {
		uid = c.BundleID
	}
	if uid != "" && c.BundleID != uid && !strings.HasPrefix(c.BundleID, uid+".") {
		return fmt.Errorf("the certificate is for bundle %q, not bundleId %q", uid, c.BundleID)
	}
	dev, prod := hasExtension(leaf, oidAPNsDevelopment), hasExtension(leaf, oidAPNsProduction)
	if (dev || prod) && (c.Production() && !prod || !c.Production() && !dev) {
		return fmt.Errorf("the certificate is not valid for APNs environment %q", c.Environment)
	}
	return nil
}

// subjectUID returns the UID attribute of leaf's subject, "" if it has none.
func subjectUID(leaf *x509.Certificate) string {
	for _, n := range leaf.Subject.Names {
		if s, ok := n.Value.(string); ok && n.Type.Equal(oidUID) {
			return s
		}
	}
	return ""
}

// hasExtension reports whether leaf has the extension oid.
func hasExtension(leaf *x509.Certificate, oid asn1.ObjectIdentifier) bool {
	return slices.ContainsFunc(leaf.Extensions, func(e pkix.Extension) bool { return e.Id.Equal(oid) })
}

// LoadAuthKey reads KeyFile, the .p8 signing key of token auth: a PKCS#8 PEM EC P-256 key,
// as Apple issues it.
func (c Certificate) LoadAuthKey() (*ecdsa.PrivateKey, error) {
	key, err := c.loadAuthKey()
	if err != nil {
		return nil, fmt.Errorf("load certificate %d: %w", c.ID, err)
	}
	return key, nil
}

// loadAuthKey is LoadAuthKey without the certificate id in errors.
func (c Certificate) loadAuthKey() (*ecdsa.PrivateKey, error) {
	if c.KeyFile == "" {
		return nil, errors.New("no keyFile: it uses certificate auth (p12File)")
	}
	data, err := os.ReadFile(c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("keyFile: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("keyFile %s: no PEM block (want a .p8 key from Apple)", c.KeyFile)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("keyFile %s: %w", c.KeyFile, err)
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("keyFile %s: a %T, want an EC P-256 key (ES256)", c.KeyFile, key)
	}
	if ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("keyFile %s: curve %s, want P-256 (ES256)", c.KeyFile, ec.Curve.Params().Name)
	}
	return ec, nil
}
