package app

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl/scram"
	"github.com/twmb/franz-go/pkg/kfake"

	"offpush/certgen"
	"offpush/config"
	"offpush/embedkafka"
	"offpush/internal/testenv"
)

// TestNewWorkerNamesUnusableDependency: each dependency that is unusable at startup gives an
// error naming it, and never the certificate password.
func TestNewWorkerNamesUnusableDependency(t *testing.T) {
	k := newTopicCluster(t, "im.messages", "im.push.dlq")
	redisAddr := testenv.Start(t).Addr
	p12 := certgen.P12(t, "", "com.example.im", "s3cret-pass", true)
	good := func() config.Config {
		c := config.Default()
		c.Kafka.Brokers, c.Redis.Addrs = k.Brokers, []string{redisAddr}
		c.APNs.Certificates = []config.Certificate{{ID: 2382, BundleID: "com.example.im", Environment: "production", P12File: p12, P12Password: "s3cret-pass"}}
		return c
	}
	tests := []struct {
		name   string
		change func(*config.Config)
		want   string
	}{
		{"all usable", func(*config.Config) {}, ""},
		// Nothing listens on port 1.
		{"redis down", func(c *config.Config) { c.Redis.Addrs = []string{"127.0.0.1:1"} }, "redis at [127.0.0.1:1] is not usable"},
		{"kafka down", func(c *config.Config) { c.Kafka.Brokers = []string{"127.0.0.1:1"} }, "kafka brokers [127.0.0.1:1] are not reachable"},
		// The DLQ must exist before consuming: a worker that cannot dead-letter would stall.
		{"dlq topic missing", func(c *config.Config) { c.Kafka.DLQTopic = "no.such.topic" }, `kafka topic "no.such.topic" is not usable`},
		{"wrong p12 password", func(c *config.Config) { c.APNs.Certificates[0].P12Password = "Xyzzy-42" }, "load certificate 2382"},
		{"p12 missing", func(c *config.Config) { c.APNs.Certificates[0].P12File = p12 + ".gone" }, "load certificate 2382"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good()
			tt.change(&cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			w, err := NewWorker(ctx, cfg, Deps{})
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				w.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "s3cret-pass") || strings.Contains(err.Error(), "Xyzzy-42") {
				t.Errorf("error leaks the password: %v", err)
			}
		})
	}
}

// newTopicCluster starts a Kafka with the given topics created.
func newTopicCluster(t *testing.T, topics ...string) *embedkafka.Cluster {
	t.Helper()
	k := embedkafka.Start(t)
	for _, topic := range topics {
		if err := k.CreateTopic(context.Background(), topic, 1); err != nil {
			t.Fatal(err)
		}
	}
	return k
}

// TestWorkerAuth: the worker connects to a Redis that requires a password, to one with an ACL
// user, and to a Kafka that requires SASL/SCRAM; wrong credentials are refused at startup.
func TestWorkerAuth(t *testing.T) {
	p12 := certgen.P12(t, "", "com.example.im", "pw", false)
	base := func(brokers []string, redisAddr string) config.Config {
		c := config.Default()
		c.Kafka.Brokers, c.Redis.Addrs = brokers, []string{redisAddr}
		c.APNs.Certificates = []config.Certificate{{ID: 2382, BundleID: "com.example.im", Environment: "production", P12File: p12, P12Password: "pw"}}
		return c
	}
	plainKafka := newTopicCluster(t, "im.messages", "im.push.dlq")
	check := func(t *testing.T, cfg config.Config, want string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		w, err := NewWorker(ctx, cfg, Deps{})
		switch {
		case want == "" && err != nil:
			t.Fatal(err)
		case want == "":
			w.Close()
		case err == nil || !strings.Contains(err.Error(), want):
			t.Fatalf("error %v, want %q", err, want)
		}
	}
	t.Run("redis requirepass", func(t *testing.T) {
		r := testenv.Start(t)
		if err := r.Client(t).ConfigSet(context.Background(), "requirepass", "redis-pw").Err(); err != nil {
			t.Fatal(err)
		}
		cfg := base(plainKafka.Brokers, r.Addr)
		check(t, cfg, "NOAUTH")
		cfg.Redis.Password = "redis-pw"
		check(t, cfg, "")
	})
	t.Run("redis ACL user", func(t *testing.T) {
		r := testenv.Start(t)
		admin := r.Client(t)
		for _, cmd := range [][]any{{"ACL", "SETUSER", "offpush", "on", ">acl-pw", "~*", "&*", "+@all"}, {"ACL", "SETUSER", "default", "off"}} {
			if err := admin.Do(context.Background(), cmd...).Err(); err != nil {
				t.Fatal(err)
			}
		}
		cfg := base(plainKafka.Brokers, r.Addr)
		cfg.Redis.Username, cfg.Redis.Password = "offpush", "wrong-pw"
		check(t, cfg, "WRONGPASS")
		cfg.Redis.Password = "acl-pw"
		check(t, cfg, "")
	})
	t.Run("kafka SASL SCRAM", func(t *testing.T) {
		k, err := embedkafka.NewFake("127.0.0.1:0", kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "offpush", "kafka-pw"))
		if err != nil {
			t.Fatal(err)
		}
		defer k.Close()
		mech, err := scram.Mechanism(scram.SHA256, "offpush", "kafka-pw")
		if err != nil {
			t.Fatal(err)
		}
		k.Dialer = &kafka.Dialer{Timeout: 10 * time.Second, SASLMechanism: mech}
		for _, topic := range []string{"im.messages", "im.push.dlq"} {
			if err := k.CreateTopic(context.Background(), topic, 1); err != nil {
				t.Fatal(err)
			}
		}
		cfg := base(k.Brokers, testenv.Start(t).Addr)
		cfg.Kafka.SASL = config.SASL{Mechanism: "SCRAM-SHA-256", Username: "offpush", Password: "wrong"}
		check(t, cfg, "kafka brokers")
		cfg.Kafka.SASL.Password = "kafka-pw"
		check(t, cfg, "")
	})
}

// TestWorkerRedisTLS: the worker reaches a redis-server over TLS (Debian's build supports it)
// with redis.tls.caFile, and a plain connection to the TLS port fails at startup.
func TestWorkerRedisTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeServerCert(t, dir)
	tlsAddr := testenv.FreeAddr(t)
	_, port, _ := net.SplitHostPort(tlsAddr)
	testenv.Start(t, "--tls-port", port, "--tls-cert-file", certFile, "--tls-key-file", keyFile,
		"--tls-ca-cert-file", certFile, "--tls-auth-clients", "no")
	k := newTopicCluster(t, "im.messages", "im.push.dlq")
	p12 := certgen.P12(t, "", "com.example.im", "pw", false)
	cfg := config.Default()
	cfg.Kafka.Brokers, cfg.Redis.Addrs = k.Brokers, []string{tlsAddr}
	cfg.APNs.Certificates = []config.Certificate{{ID: 2382, BundleID: "com.example.im", Environment: "production", P12File: p12, P12Password: "pw"}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := NewWorker(ctx, cfg, Deps{}); err == nil || !strings.Contains(err.Error(), "redis at") {
		t.Fatalf("plain connection to the TLS port: %v, want a redis error", err)
	}
	cfg.Redis.TLS = config.TLS{Enabled: true, CAFile: certFile}
	w, err := NewWorker(ctx, cfg, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
}

// writeServerCert writes a self-signed certificate for 127.0.0.1 and its key as PEM files.
func writeServerCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "redis test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "redis.crt"), filepath.Join(dir, "redis.key")
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	must(os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600))
	return certFile, keyFile
}
