package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sideshow/apns2/certificate"
	xpkcs12 "golang.org/x/crypto/pkcs12"
	"software.sslmate.com/src/go-pkcs12"

	"offpush/certgen"
)

const bundle = "com.example.im"

// p12With writes a .p12 of a fresh push certificate encoded by enc, and returns a Certificate
// using it and the certificate's NotAfter.
func p12With(t *testing.T, enc *pkcs12.Encoder, spec certgen.Spec, password string) (Certificate, time.Time) {
	t.Helper()
	cert, key, err := certgen.PushCertificate(spec)
	if err != nil {
		t.Fatal(err)
	}
	data, err := enc.Encode(key, cert, nil, password)
	if err != nil {
		t.Fatal(err)
	}
	path, err := certgen.WriteFile(t.TempDir(), "*.p12", data)
	if err != nil {
		t.Fatal(err)
	}
	return Certificate{ID: 2382, BundleID: bundle, Environment: Production, P12File: path, P12Password: password}, cert.NotAfter
}

func TestLoadTLSReadsLegacyAndModernP12(t *testing.T) {
	encoders := []struct {
		name string
		enc  *pkcs12.Encoder
	}{
		// Keychain Access and OpenSSL 1: key in 3DES, certificate in 40-bit RC2, SHA-1 MAC.
		{"legacy RC2", pkcs12.LegacyRC2},
		// OpenSSL -descert: both in 3DES.
		{"legacy 3DES", pkcs12.LegacyDES},
		// OpenSSL 3's default: PBES2 with PBKDF2-SHA-256 and AES-256-CBC, SHA-256 MAC.
		{"modern AES", pkcs12.Modern2023},
		// OpenSSL 3.4+: as above with a PBMAC1 MAC.
		{"modern PBMAC1", pkcs12.Modern2026},
	}
	notAfter := time.Now().Add(90 * 24 * time.Hour).Truncate(time.Second)
	for _, tt := range encoders {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := p12With(t, tt.enc, certgen.Spec{BundleID: bundle, NotAfter: notAfter}, "pässword")
			cert, gotNotAfter, err := c.LoadTLS()
			if err != nil {
				t.Fatal(err)
			}
			if !gotNotAfter.Equal(notAfter) {
				t.Errorf("NotAfter = %v, want %v", gotNotAfter, notAfter)
			}
			if cert.Leaf == nil || cert.Leaf.Subject.CommonName != "Apple Push Services: "+bundle || len(cert.Certificate) != 1 {
				t.Errorf("certificate = %+v", cert.Leaf)
			}
			if _, ok := cert.PrivateKey.(*ecdsa.PrivateKey); !ok {
				t.Errorf("private key is a %T", cert.PrivateKey)
			}
		})
	}
}

// TestXCryptoPKCS12RejectsModern documents why LoadTLS uses go-pkcs12: golang.org/x/crypto's
// pkcs12 (and apns2's certificate.FromP12Bytes, built on it) reads only legacy files, while
// OpenSSL 3 and current macOS export modern ones by default.
func TestXCryptoPKCS12RejectsModern(t *testing.T) {
	for _, modern := range []bool{false, true} {
		data := readFile(t, certgen.P12(t, "", bundle, "pw", modern))
		_, _, xerr := xpkcs12.Decode(data, "pw")
		_, aerr := certificate.FromP12Bytes(data, "pw")
		if modern && (xerr == nil || aerr == nil) {
			t.Errorf("modern: x/crypto err = %v, apns2 err = %v; want both to fail", xerr, aerr)
		}
		if !modern && (xerr != nil || aerr != nil) {
			t.Errorf("legacy: x/crypto err = %v, apns2 err = %v; want both to succeed", xerr, aerr)
		}
		c := Certificate{ID: 1, BundleID: bundle, Environment: Production, P12File: writeTemp(t, data), P12Password: "pw"}
		if _, _, err := c.LoadTLS(); err != nil {
			t.Errorf("modern=%v: LoadTLS: %v", modern, err)
		}
	}
}

func TestLoadTLSWrongPassword(t *testing.T) {
	const right, wrong = "right-Secret-1", "wrong-Secret-2"
	for _, modern := range []bool{false, true} {
		c := Certificate{ID: 2382, BundleID: bundle, Environment: Production,
			P12File: certgen.P12(t, "", bundle, right, modern), P12Password: wrong}
		_, _, err := c.LoadTLS()
		if err == nil {
			t.Fatal("LoadTLS with a wrong password succeeded")
		}
		msg := err.Error()
		for _, want := range []string{"load certificate 2382:", "wrong password", c.P12File} {
			if !strings.Contains(msg, want) {
				t.Errorf("modern=%v: error %q does not contain %q", modern, msg, want)
			}
		}
		if strings.Contains(msg, right) || strings.Contains(msg, wrong) {
			t.Errorf("modern=%v: error %q contains a password", modern, msg)
		}
	}
}

func TestLoadTLSNotAfter(t *testing.T) {
	// GenerateP12 is what offpush dev uses; a certificate about to expire still loads.
	notAfter := time.Now().Add(10 * 24 * time.Hour).Truncate(time.Second)
	path, err := certgen.GenerateP12(t.TempDir(), bundle, "", true, notAfter)
	if err != nil {
		t.Fatal(err)
	}
	c := Certificate{ID: 2382, BundleID: bundle, Environment: Production, P12File: path}
	_, got, err := c.LoadTLS()
	if err != nil || !got.Equal(notAfter) {
		t.Fatalf("LoadTLS = %v, %v; want NotAfter %v", got, err, notAfter)
	}
	if time.Until(got) > ExpiryWarning {
		t.Errorf("a certificate expiring in 10 days is beyond ExpiryWarning")
	}
}

func TestLoadTLSChecksTheCertificate(t *testing.T) {
	year := time.Now().Add(365 * 24 * time.Hour)
	tests := []struct {
		name        string
		spec        certgen.Spec
		bundleID    string
		environment string
		err         string // "" = loads
		voip        bool
	}{
		// The bundle id in the subject's UID must be the apns-topic…
		{"other bundle", certgen.Spec{BundleID: "com.other.app", NotAfter: year}, bundle, Production, `for bundle "com.other.app"`, false},
		// …or a sub-topic of it (universal certificates: VoIP, complications).
		{"voip topic", certgen.Spec{BundleID: bundle, NotAfter: year}, bundle + ".voip", Production, "", false},
		// A sandbox-only certificate cannot reach production APNs…
		{"development certificate in production", certgen.Spec{BundleID: bundle, NotAfter: year, Environments: []string{Development}},
			bundle, Production, `not valid for APNs environment "production"`, false},
		{"production certificate in development", certgen.Spec{BundleID: bundle, NotAfter: year, Environments: []string{Production}},
			bundle, Development, `not valid for APNs environment "development"`, false},
		// …a universal one reaches both.
		{"universal", certgen.Spec{BundleID: bundle, NotAfter: year, Environments: []string{Production, Development}},
			bundle, Development, "", false},
		// A VoIP Services certificate names bundle.voip; configured with voip: true for bundle.
		{"VoIP Services certificate", certgen.Spec{BundleID: bundle + ".voip", NotAfter: year}, bundle, Production, "", true},
		{"VoIP Services certificate without voip", certgen.Spec{BundleID: bundle + ".voip", NotAfter: year}, bundle, Production,
			`for bundle "com.example.im.voip"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := p12With(t, pkcs12.Modern, tt.spec, "pw")
			c.BundleID, c.Environment, c.VoIP = tt.bundleID, tt.environment, tt.voip
			_, _, err := c.LoadTLS()
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("LoadTLS: %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("LoadTLS error = %v, want %q", err, tt.err)
			}
		})
	}
}

// TestLoadTLSFindsTheLeaf: some exports put the issuer first; the leaf is the certificate
// matching the key.
func TestLoadTLSFindsTheLeaf(t *testing.T) {
	spec := certgen.Spec{BundleID: bundle, NotAfter: time.Now().Add(time.Hour)}
	leaf, key, err := certgen.PushCertificate(spec)
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := certgen.PushCertificate(spec)
	if err != nil {
		t.Fatal(err)
	}
	data, err := pkcs12.Modern.Encode(key, other, []*x509.Certificate{leaf}, "")
	if err != nil {
		t.Fatal(err)
	}
	c := Certificate{ID: 1, BundleID: bundle, Environment: Production, P12File: writeTemp(t, data)}
	cert, _, err := c.LoadTLS()
	if err != nil {
		t.Fatal(err)
	}
	if !cert.Leaf.Equal(leaf) || len(cert.Certificate) != 2 || string(cert.Certificate[1]) != string(other.Raw) {
		t.Errorf("leaf is not the key's certificate, or the chain lost the other")
	}

	// No certificate matching the key at all.
	data, err = pkcs12.Modern.Encode(key, other, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	c.P12File = writeTemp(t, data)
	if _, _, err := c.LoadTLS(); err == nil || !strings.Contains(err.Error(), "matches the private key") {
		t.Errorf("LoadTLS error = %v, want a key mismatch", err)
	}
}

func TestLoadTLSErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		c    Certificate
		err  string
	}{
		{"token auth", Certificate{ID: 2516, KeyFile: "k.p8"}, "load certificate 2516: no p12File"},
		{"missing file", Certificate{ID: 1, P12File: dir + "/none.p12"}, "no such file"},
		{"not a p12", Certificate{ID: 1, P12File: writeFile(t, dir, "x.p12", "hello")}, "pkcs12"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := tt.c.LoadTLS(); err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("LoadTLS error = %v, want %q", err, tt.err)
			}
		})
	}
}

func TestLoadAuthKey(t *testing.T) {
	path, want := certgen.P8(t, "")
	c := Certificate{ID: 2516, KeyFile: path, KeyID: "ABC123DEFG", TeamID: "DEF123GHIJ"}
	got, err := c.LoadAuthKey()
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(want) {
		t.Error("LoadAuthKey returned another key")
	}
}

func TestLoadAuthKeyErrors(t *testing.T) {
	dir := t.TempDir()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		c    Certificate
		err  string
	}{
		{"certificate auth", Certificate{ID: 2382, P12File: "a.p12"}, "load certificate 2382: no keyFile"},
		{"missing", Certificate{ID: 1, KeyFile: dir + "/none.p8"}, "no such file"},
		{"not PEM", Certificate{ID: 1, KeyFile: writeFile(t, dir, "a.p8", "MIGHAgEAMBMG")}, "no PEM block"},
		{"not PKCS#8", Certificate{ID: 1, KeyFile: writeFile(t, dir, "b.p8", pemString("EC PRIVATE KEY", []byte{1, 2}))}, "keyFile"},
		{"RSA", Certificate{ID: 1, KeyFile: writeFile(t, dir, "c.p8", pkcs8PEM(t, rsaKey))}, "*rsa.PrivateKey, want an EC P-256 key"},
		{"P-384", Certificate{ID: 1, KeyFile: writeFile(t, dir, "d.p8", pkcs8PEM(t, p384))}, "curve P-384, want P-256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.c.LoadAuthKey(); err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("LoadAuthKey error = %v, want %q", err, tt.err)
			}
		})
	}
}

func TestProduction(t *testing.T) {
	prod, dev := Certificate{Environment: Production}, Certificate{Environment: Development}
	if !prod.Production() || dev.Production() {
		t.Error("Production() wrong")
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func writeTemp(t *testing.T, data []byte) string {
	t.Helper()
	path, err := certgen.WriteFile(t.TempDir(), "*", data)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func pemString(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func pkcs8PEM(t *testing.T, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pemString("PRIVATE KEY", der)
}
