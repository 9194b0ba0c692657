package certgen

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"os"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

func TestP12(t *testing.T) {
	for _, modern := range []bool{false, true} {
		path := P12(t, "", "com.example.im", "pw", modern)
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("mode %v, want 0600", info.Mode())
		}
		data, _ := os.ReadFile(path)
		_, cert, err := pkcs12.Decode(data, "pw")
		if err != nil {
			t.Fatal(err)
		}
		// Apple's subject: CN "Apple Push Services: <bundle>", UID <bundle>.
		if cert.Subject.CommonName != "Apple Push Services: com.example.im" || uid(cert) != "com.example.im" {
			t.Errorf("subject %v", cert.Subject)
		}
		if len(cert.ExtKeyUsage) != 1 || cert.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
			t.Errorf("ext key usage %v, want client auth", cert.ExtKeyUsage)
		}
		if d := time.Until(cert.NotAfter) - Validity; d > time.Minute || d < -time.Minute {
			t.Errorf("NotAfter %v, want about now + Validity", cert.NotAfter)
		}
	}
}

func TestP12Modern(t *testing.T) {
	// Legacy files use 3DES (OID 1.2.840.113549.1.12.1.3), modern ones PBES2 (1.2.840.113549.1.5.13).
	legacy, _ := os.ReadFile(P12(t, "", "a.b", "pw", false))
	modern, _ := os.ReadFile(P12(t, "", "a.b", "pw", true))
	pbes2 := asn1OID(t, asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13})
	if bytes.Contains(legacy, pbes2) || !bytes.Contains(modern, pbes2) {
		t.Error("modern flag does not select PBES2 encryption")
	}
}

func TestPushCertificateEnvironments(t *testing.T) {
	cert, _, err := PushCertificate(Spec{BundleID: "a.b", NotAfter: time.Now().Add(time.Hour), Environments: []string{"production", "development"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range cert.Extensions {
		if e.Id.Equal(oidAPNsProduction) || e.Id.Equal(oidAPNsDevelopment) {
			got = append(got, e.Id.String())
		}
	}
	if len(got) != 2 {
		t.Errorf("APNs environment extensions %v, want both", got)
	}
}

func TestP8(t *testing.T) {
	path, key := P8(t, "")
	data, _ := os.ReadFile(path)
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("not a PKCS#8 PEM file: %q", data)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil || !key.Equal(parsed) {
		t.Errorf("file does not hold the returned key: %v", err)
	}
}

func uid(cert *x509.Certificate) string {
	for _, n := range cert.Subject.Names {
		if n.Type.Equal(oidUID) {
			s, _ := n.Value.(string)
			return s
		}
	}
	return ""
}

func asn1OID(t *testing.T, oid asn1.ObjectIdentifier) []byte {
	der, err := asn1.Marshal(oid)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
