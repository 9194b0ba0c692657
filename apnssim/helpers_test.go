package apnssim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"
)

func TestMain(m *testing.M) {
	RunChild()
	os.Exit(m.Run())
}

const (
	testTopic  = "com.example.im"
	testKeyID  = "KEY1234567"
	testTeamID = "TEAM123456"
	testToken  = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	testBody   = `{"aps":{"alert":{"title":"Alice","body":"hi"},"badge":1,"sound":"default"}}`
)

// newSim starts a simulator that closes with the test.
func newSim(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// newClient is an HTTP/2 client trusting pool, presenting cert when it is not nil.
func newClient(t testing.TB, pool *x509.CertPool, cert *tls.Certificate) *http.Client {
	t.Helper()
	cfg := &tls.Config{RootCAs: pool}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	var h2 http.Protocols
	h2.SetHTTP2(true) // as APNs clients do
	tr := &http.Transport{TLSClientConfig: cfg, Protocols: &h2, MaxConnsPerHost: 1}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func mustClientCert(t testing.TB, topic string) *tls.Certificate {
	t.Helper()
	c, err := ClientCertificate(topic)
	if err != nil {
		t.Fatal(err)
	}
	return &c
}

// anonymousCert is a client certificate whose subject names no topic.
func anonymousCert(t testing.TB) *tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// signJWT makes a provider token as apns2/token does, with a chosen iat.
func signJWT(t testing.TB, key *ecdsa.PrivateKey, kid, team string, iat time.Time) string {
	t.Helper()
	tok := &jwt.Token{
		Header: map[string]any{"alg": "ES256", "kid": kid},
		Claims: jwt.MapClaims{"iss": team, "iat": iat.Unix()},
		Method: jwt.SigningMethodES256,
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// answer is what the simulator replied to one request.
type answer struct {
	status    int
	reason    string
	timestamp int64
	header    http.Header
}

// do sends one request and decodes APNs's error body.
func do(t testing.TB, c *http.Client, method, url string, hdr http.Header, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		req.Header[http.CanonicalHeaderKey(k)] = vs
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header}
	if len(raw) > 0 {
		var e struct {
			Reason    string `json:"reason"`
			Timestamp int64  `json:"timestamp"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatalf("error body %q: %v", raw, err)
		}
		a.reason, a.timestamp = e.Reason, e.Timestamp
	}
	return a
}
