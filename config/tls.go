package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// Config returns the client TLS configuration t describes, or nil when TLS is disabled.
// CAFile, when set, replaces the system roots; CertFile and KeyFile add a client certificate.
func (t TLS) Config() (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // the operator's explicit choice
	}
	if t.CAFile != "" {
		pool, err := appendPEM(x509.NewCertPool(), t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls caFile: %w", err)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" || t.KeyFile != "" {
		pair, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls certFile/keyFile: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// RootCAs returns the roots to verify the APNs host with: nil (the system roots) when CAFile
// is empty, else the system roots plus CAFile's certificates.
func (a APNs) RootCAs() (*x509.CertPool, error) {
	if a.CAFile == "" {
		return nil, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool() // no system roots on this platform: CAFile alone
	}
	pool, err = appendPEM(pool, a.CAFile)
	if err != nil {
		return nil, fmt.Errorf("apns caFile: %w", err)
	}
	return pool, nil
}

// appendPEM adds the PEM certificates of the file at path to pool.
func appendPEM(pool *x509.CertPool, path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if !pool.AppendCertsFromPEM(data) {
		return nil, errors.New(path + ": no PEM certificate found")
	}
	return pool, nil
}
