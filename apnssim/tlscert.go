package apnssim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"strings"
	"time"
)

// oidUID is the subject attribute (userId, RFC 4519) in which Apple's push certificates carry
// their bundle id; their common name is "Apple Push Services: <bundle id>".
var oidUID = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}

// serverCert makes the simulator's self-signed TLS certificate for 127.0.0.1, ::1, localhost
// and the machine's host name (so a container reached as "apns-sim" is trusted). It is its
// own CA: trusting its PEM is enough.
func serverCert() (tls.Certificate, []byte, error) {
	names := []string{"localhost"}
	if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" {
		names = append(names, h)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("generate TLS key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "offpush APNs simulator"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              names,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("create TLS certificate: %w", err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pemBytes, nil
}

// ClientCertificate makes a self-signed client certificate shaped like Apple's push
// certificate for topic (subject UID = topic, CN "Apple Push Services: topic"), for tests and
// `offpush dev`. The simulator accepts any client certificate whose subject names the topic.
func ClientCertificate(topic string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate client key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject: pkix.Name{
			CommonName: "Apple Push Services: " + topic,
			ExtraNames: []pkix.AttributeTypeAndValue{{Type: oidUID, Value: topic}},
		},
		NotBefore:   time.Now().Add(-time.Hour),
		NotAfter:    time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("create client certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("parse client certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	return n
}

// certTopic is the bundle id a push certificate is for: its subject UID, else the part of the
// common name after the last ": ". "" when neither names one.
func certTopic(c *x509.Certificate) string {
	for _, n := range c.Subject.Names {
		if n.Type.Equal(oidUID) {
			if s, ok := n.Value.(string); ok && s != "" {
				return s
			}
		}
	}
	cn := c.Subject.CommonName
	if i := strings.LastIndex(cn, ": "); i >= 0 {
		return cn[i+2:]
	}
	return cn
}

// topicSuffixes are the topics a certificate for a bundle id also covers (VoIP, complication
// and File Provider pushes use the bundle id plus these suffixes).
var topicSuffixes = []string{".voip", ".complication", ".pushkit.fileprovider"}

func certCovers(certTopic, topic string) bool {
	if topic == certTopic {
		return true
	}
	rest, ok := strings.CutPrefix(topic, certTopic)
	if !ok {
		return false
	}
	for _, s := range topicSuffixes {
		if rest == s {
			return true
		}
	}
	return false
}
