// Package nodepeer starts an APNs peer on Node's built-in http2 module (nghttp2) for tests:
// an HTTP/2 server that is not Go's, scripted through a control port to change its
// SETTINGS mid-connection, send GOAWAYs, refuse streams and answer errors, and counting what
// it delivered per device token. Only tests import it.
//
// Without node on PATH the test is skipped, or fails when the environment has CI=true.
package nodepeer

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	_ "embed"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"offpush/internal/testenv"
)

//go:embed peer.mjs
var script []byte

const startTimeout = 15 * time.Second

// Peer is one running node process serving the APNs peer.
type Peer struct {
	// URL is the peer's https://127.0.0.1:port base URL (Options.Host of a pool).
	URL string

	roots   *x509.CertPool
	control string // http://127.0.0.1:port of the control port
	client  *http.Client
	proc    *testenv.Proc
	out     *testenv.SyncBuffer // node's stderr
}

// Settings are SETTINGS values by Node's names: headerTableSize, initialWindowSize,
// maxFrameSize, maxConcurrentStreams, maxHeaderListSize.
type Settings map[string]uint32

// Config is the peer's behaviour; the zero value answers every valid push with 200 at once
// with SETTINGS_MAX_CONCURRENT_STREAMS 1000, like APNs. Request counts (the Nth request)
// run across connections from the last Reset; stream counts are per connection.
type Config struct {
	Settings Settings `json:"settings,omitempty"` // SETTINGS of new connections
	DelayMS  int      `json:"delayMs,omitempty"`  // hold each answer this long
	Topic    string   `json:"topic,omitempty"`    // required apns-topic ("" → any)

	ErrorEvery  int    `json:"errorEvery,omitempty"`  // answer every Nth request with an error
	ErrorStatus int    `json:"errorStatus,omitempty"` // its status; default 429
	ErrorReason string `json:"errorReason,omitempty"` // its reason; default TooManyRequests
	// LowerTo, when > 0, lowers the connection's SETTINGS_MAX_CONCURRENT_STREAMS to it after
	// each such error answer, and RestoreAfterMS later raises it to RestoreTo (default 1000).
	LowerTo        int `json:"lowerTo,omitempty"`
	RestoreAfterMS int `json:"restoreAfterMs,omitempty"`
	RestoreTo      int `json:"restoreTo,omitempty"`

	RefuseEvery int `json:"refuseEvery,omitempty"` // reset every Nth request with REFUSED_STREAM
	// GoAwayEvery: on the Nth stream of a connection the peer sends GOAWAY with that stream
	// as the last one it processes, answers the streams up to it and closes.
	GoAwayEvery int `json:"goawayEvery,omitempty"`
	// TableEvery: every Nth stream of a connection the peer sends SETTINGS_HEADER_TABLE_SIZE,
	// cycling through TableSizes; an entry of several sizes is sent as back-to-back SETTINGS.
	TableEvery int     `json:"tableEvery,omitempty"`
	TableSizes [][]int `json:"tableSizes,omitempty"`
}

// Stats are the peer's counters since the last Reset.
type Stats struct {
	Sessions        int            `json:"sessions"`      // connections accepted
	OpenSessions    int            `json:"openSessions"`  // connections open now
	Streams         int            `json:"streams"`       // request streams that reached the handler
	Delivered       map[string]int `json:"delivered"`     // token → 200 answers completed
	Answered        map[string]int `json:"answered"`      // token → error answers completed
	Received        map[string]int `json:"received"`      // token → streams that named it
	LostAnswers     int            `json:"lostAnswers"`   // answers whose stream did not close cleanly
	Refused         int            `json:"refused"`       // streams the script reset with REFUSED_STREAM
	GoAways         int            `json:"goaways"`       // GOAWAYs the script sent
	AboveGoAway     int            `json:"aboveGoaway"`   // streams above a sent GOAWAY's last stream id
	Lowered         int            `json:"lowered"`       // stream limit lowered after an error answer
	Restored        int            `json:"restored"`      // stream limit raised again
	TableChanges    int            `json:"tableChanges"`  // header table size SETTINGS sent
	SettingsSent    int            `json:"settingsSent"`  // SETTINGS frames sent after the first
	MaxOpen         int            `json:"maxOpen"`       // most streams open at once on one connection
	Pings           int            `json:"pings"`         // PINGs received
	Bad             int            `json:"bad"`           // malformed requests (wrong path, header, body)
	BadSamples      []string       `json:"badSamples"`    // the first of them
	SessionErrors   []string       `json:"sessionErrors"` // connection errors nghttp2 or Node reported
	GoAwaysReceived []string       `json:"goawaysReceived"`
	ClientCerts     int            `json:"clientCerts"` // connections with a client certificate
	Bearer          int            `json:"bearer"`      // requests with a bearer provider token
}

// Start starts a peer for t and returns once it listens; it is stopped at t's cleanup, and
// its stderr is logged if t failed.
func Start(t testenv.TB) *Peer {
	t.Helper()
	bin := testenv.LookPath(t, "node", "Node's http2 module as an independent HTTP/2 peer",
		"apt-get install -y nodejs, or brew install node")
	dir := t.TempDir()
	p, err := start(bin, dir)
	if err != nil {
		t.Fatalf("nodepeer: %v", err)
	}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("node peer stderr:\n%s", p.out.String())
		}
	})
	return p
}

func start(bin, dir string) (*Peer, error) {
	certPEM, keyPEM, roots, err := serverCert()
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{"peer.mjs": script, "cert.pem": certPEM, "key.pem": keyPEM}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return nil, err
		}
	}
	out := &testenv.SyncBuffer{}
	// The peer exits when its stdin closes, even if this process dies.
	proc, err := testenv.StartProc(testenv.ProcSpec{Name: "node", Bin: bin,
		Args:   []string{filepath.Join(dir, "peer.mjs"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")},
		Stderr: out, StdoutPipe: true, StdinPipe: true})
	if err != nil {
		return nil, err
	}
	stdout := proc.Stdout()
	p := &Peer{roots: roots, proc: proc, out: out, client: &http.Client{Timeout: 10 * time.Second}}
	type ports struct{ Port, Control int }
	ready := make(chan ports, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			var pp ports
			if json.Unmarshal(sc.Bytes(), &pp) == nil {
				ready <- pp
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case pp := <-ready:
		p.URL = "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(pp.Port))
		p.control = "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(pp.Control))
		return p, nil
	case <-proc.Done():
		return nil, fmt.Errorf("node exited with code %d before listening\n%s", proc.ExitCode(), out.String())
	case <-time.After(startTimeout):
		p.stop()
		return nil, fmt.Errorf("node did not listen within %v\n%s", startTimeout, out.String())
	}
}

// stop closes the peer's stdin, which ends it, and kills it if it lingers.
func (p *Peer) stop() { p.proc.CloseStdin(2 * time.Second) }

// CertPool trusts the peer's self-signed certificate.
func (p *Peer) CertPool() *x509.CertPool { return p.roots }

// Configure replaces the peer's behaviour; connections opened from now on use its settings.
func (p *Peer) Configure(c Config) error { return p.post("/config", c, nil) }

// SendSettings sends a SETTINGS frame with s on every open connection; new connections open
// with s too.
func (p *Peer) SendSettings(s Settings) error { return p.post("/settings", s, nil) }

// Reset zeroes the counters and closes every connection.
func (p *Peer) Reset() error { return p.post("/reset", nil, nil) }

// Stats reads the counters.
func (p *Peer) Stats() (Stats, error) {
	var s Stats
	resp, err := p.client.Get(p.control + "/stats")
	if err != nil {
		return s, fmt.Errorf("nodepeer stats: %w", err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return s, fmt.Errorf("nodepeer stats: %w", err)
	}
	return s, nil
}

func (p *Peer) post(path string, in, out any) error {
	var body io.Reader = http.NoBody
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	resp, err := p.client.Post(p.control+path, "application/json", body)
	if err != nil {
		return fmt.Errorf("nodepeer %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("nodepeer %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("nodepeer %s: %s: %s", path, resp.Status, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// serverCert makes a self-signed certificate for 127.0.0.1 and localhost: its PEM, its key's
// PKCS #8 PEM and a pool that trusts it.
func serverCert() (certPEM, keyPEM []byte, roots *x509.CertPool, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "offpush node APNs peer"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	roots = x509.NewCertPool()
	roots.AddCert(leaf)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}), roots, nil
}
