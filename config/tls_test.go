package config

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"

	"offpush/certgen"
)

// pemPair writes a certificate and its key as PEM files and returns their paths.
func pemPair(t *testing.T) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	cert, key, err := certgen.PushCertificate(certgen.Spec{BundleID: "ca", NotAfter: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	return writeFile(t, dir, "cert.pem", pemString("CERTIFICATE", cert.Raw)),
		writeFile(t, dir, "key.pem", pkcs8PEM(t, key)), cert
}

func TestTLSConfig(t *testing.T) {
	certFile, keyFile, cert := pemPair(t)

	if cfg, err := (TLS{CAFile: certFile}).Config(); cfg != nil || err != nil {
		t.Errorf("disabled: Config() = %v, %v; want nil, nil", cfg, err)
	}

	cfg, err := TLS{Enabled: true, CAFile: certFile, CertFile: certFile, KeyFile: keyFile, InsecureSkipVerify: true}.Config()
	if err != nil {
		t.Fatal(err)
	}
	want := x509.NewCertPool()
	want.AddCert(cert)
	if !cfg.RootCAs.Equal(want) {
		t.Error("RootCAs is not exactly caFile's certificate")
	}
	if len(cfg.Certificates) != 1 || !cfg.InsecureSkipVerify || cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("Config() = %+v", cfg)
	}

	// Enabled with nothing else: system roots, no client certificate.
	if cfg, err := (TLS{Enabled: true}).Config(); err != nil || cfg.RootCAs != nil || cfg.Certificates != nil {
		t.Errorf("Config() = %+v, %v", cfg, err)
	}
	if _, err := (TLS{Enabled: true, CAFile: keyFile}).Config(); err == nil {
		t.Error("a key as caFile was accepted")
	}
	if _, err := (TLS{Enabled: true, CertFile: certFile}).Config(); err == nil {
		t.Error("certFile without keyFile was accepted")
	}
}

func TestAPNsRootCAs(t *testing.T) {
	certFile, keyFile, cert := pemPair(t)
	if pool, err := (APNs{}).RootCAs(); pool != nil || err != nil {
		t.Errorf("no caFile: RootCAs() = %v, %v; want nil (system roots)", pool, err)
	}
	pool, err := APNs{CAFile: certFile}.RootCAs()
	if err != nil {
		t.Fatal(err)
	}
	// The simulator's CA is trusted, on top of the system roots.
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("caFile's certificate does not verify against RootCAs: %v", err)
	}
	if _, err := (APNs{CAFile: keyFile}).RootCAs(); err == nil {
		t.Error("a key as caFile was accepted")
	}
}
