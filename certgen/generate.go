// Package certgen makes APNs credentials for tests and for offpush dev: self-signed push
// client certificates shaped like Apple's, in .p12 files with legacy or modern encryption,
// and .p8 token-auth keys. Nothing it makes is trusted by Apple.
package certgen

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

var (
	// oidUID is the subject attribute userID (RFC 4519), where Apple puts the bundle id.
	oidUID = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}
	// Apple's push certificate extensions (Apple WWDR Certification Practice Statement).
	oidAPNsDevelopment = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 6, 3, 1}
	oidAPNsProduction  = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 6, 3, 2}
)

// Spec describes a push certificate to make.
type Spec struct {
	BundleID string
	NotAfter time.Time
	// Environments lists "production" and/or "development": each adds Apple's extension
	// for that APNs environment (both make a universal certificate). None adds no extension.
	Environments []string
}

// PushCertificate makes a self-signed client certificate and its ECDSA P-256 key, with the
// subject Apple gives push certificates: CN "Apple Push Services: <bundle id>", UID the
// bundle id.
func PushCertificate(s Spec) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	subject := pkix.Name{
		CommonName:         "Apple Push Services: " + s.BundleID,
		OrganizationalUnit: []string{"DEVTEAM001"},
		ExtraNames:         []pkix.AttributeTypeAndValue{{Type: oidUID, Value: s.BundleID}},
	}
	template := &x509.Certificate{
		SerialNumber:    serial,
		Subject:         subject,
		NotBefore:       time.Now().Add(-time.Hour),
		NotAfter:        s.NotAfter,
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtKeyUsage:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		ExtraExtensions: environmentExtensions(s.Environments),
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

// environmentExtensions returns Apple's extensions for the APNs environments envs.
func environmentExtensions(envs []string) []pkix.Extension {
	var exts []pkix.Extension
	for _, env := range envs {
		oid := oidAPNsDevelopment
		if env == "production" {
			oid = oidAPNsProduction
		}
		exts = append(exts, pkix.Extension{Id: oid, Value: []byte{0x05, 0x00}}) // ASN.1 NULL
	}
	return exts
}

// GenerateP12 writes a new push certificate for bundleID, valid until notAfter, to a new .p12
// file in dir encrypted with password, and returns its path. modern selects go-pkcs12's
// Modern encoder (PBES2 AES-256-CBC, SHA-256 MAC: OpenSSL 3's default) over Legacy
// (3DES, SHA-1 MAC: what older tools and golang.org/x/crypto/pkcs12 read).
func GenerateP12(dir, bundleID, password string, modern bool, notAfter time.Time) (path string, err error) {
	cert, key, err := PushCertificate(Spec{BundleID: bundleID, NotAfter: notAfter})
	if err != nil {
		return "", fmt.Errorf("generate p12 for %s: %w", bundleID, err)
	}
	enc := pkcs12.Legacy
	if modern {
		enc = pkcs12.Modern
	}
	data, err := enc.Encode(key, cert, nil, password)
	if err != nil {
		return "", fmt.Errorf("generate p12 for %s: %w", bundleID, err)
	}
	return WriteFile(dir, bundleID+"-*.p12", data)
}

// GenerateP8 writes a new token-auth signing key, as Apple issues them (PKCS#8 PEM, EC P-256),
// to a new .p8 file in dir and returns its path and the key.
func GenerateP8(dir string) (path string, key *ecdsa.PrivateKey, err error) {
	key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", nil, fmt.Errorf("generate p8: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", nil, fmt.Errorf("generate p8: %w", err)
	}
	path, err = WriteFile(dir, "AuthKey_*.p8", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	return path, key, err
}

// WriteFile writes data to a new file in dir named by pattern (see os.CreateTemp), readable
// by its owner only, and returns its path.
func WriteFile(dir, pattern string, data []byte) (string, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}
