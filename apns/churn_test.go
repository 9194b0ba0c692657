package apns_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"offpush/apns"
	"offpush/apns/h2"
	"offpush/apnssim"
	"offpush/internal/nodepeer"
)

// Churn parameters: pushes per run, and how many are in flight at once (the pool's
// InFlight, on one connection).
const (
	churnPushes   = 6000
	churnInFlight = 500
	churnTopic    = "com.example.im"
	churnID       = 7
)

// churnScenario is one behaviour of the node peer that both transports must get through.
type churnScenario struct {
	name    string
	cfg     nodepeer.Config
	token   bool // token auth (the provider token in every request's headers) rather than a certificate
	payload int  // bytes of each notification's payload
	// check asserts from the peer's counters that the fault was staged.
	check func(t *testing.T, s nodepeer.Stats)
	// netHTTPLowerRace: net/http's client may open a stream under the old limit after it
	// acknowledged a lowered one (it checks the limit, then writes the HEADERS, and its
	// reader can acknowledge SETTINGS in between); nghttp2 answers with a connection error,
	// which fails the requests in flight. With net/http such failures are reported, not
	// errors, in this scenario; apns/h2 opens streams and queues the ACK under one lock.
	netHTTPLowerRace bool
}

var churnScenarios = []churnScenario{
	{
		// An error answer lowers the connection's stream limit to 1; 100 ms later it is 1000
		// again. Requests in flight when the limit drops are refused by nghttp2; requests opened
		// under the raised limit before its SETTINGS is acknowledged kill the connection.
		name: "StreamLimit1AndBack",
		cfg: nodepeer.Config{ErrorEvery: 500, ErrorStatus: 429, ErrorReason: "TooManyRequests",
			LowerTo: 1, RestoreAfterMS: 100, RestoreTo: 1000, DelayMS: 2},
		token: true, payload: 200, netHTTPLowerRace: true,
		check: func(t *testing.T, s nodepeer.Stats) {
			if s.Lowered < churnPushes/500-1 || s.Restored != s.Lowered {
				t.Errorf("stream limit lowered %d times and restored %d, want about %d each", s.Lowered, s.Restored, churnPushes/500)
			}
		},
	},
	{
		// 500 streams in flight; on its 300th stream a connection gets GOAWAY naming that
		// stream as the last, so about 200 in flight are above it and were not processed.
		name:    "GoAwayUnderLoad",
		cfg:     nodepeer.Config{GoAwayEvery: 300, DelayMS: 20},
		payload: 200,
		check: func(t *testing.T, s nodepeer.Stats) {
			if s.GoAways < churnPushes/300-1 {
				t.Errorf("%d GOAWAYs, want about %d", s.GoAways, churnPushes/300)
			}
			// A loaded machine (-race, packages tested in parallel) keeps fewer open: net/http
			// reached 128. What the scenario needs is streams above each GOAWAY's last id.
			if s.MaxOpen < 100 {
				t.Errorf("at most %d streams open at the peer, want at least 100 before each GOAWAY", s.MaxOpen)
			}
		},
	},
	{
		name:    "RefusedStream",
		cfg:     nodepeer.Config{RefuseEvery: 7, DelayMS: 2},
		payload: 200,
		check: func(t *testing.T, s nodepeer.Stats) {
			if s.Refused < churnPushes/7 {
				t.Errorf("%d streams refused, want at least %d", s.Refused, churnPushes/7)
			}
		},
	},
	{
		// A 1 KB stream window: a 4 KB payload takes four windows of the peer's
		// WINDOW_UPDATEs, on hundreds of streams at once.
		name:    "SmallWindow",
		cfg:     nodepeer.Config{Settings: nodepeer.Settings{"initialWindowSize": 1024, "maxConcurrentStreams": 1000}},
		payload: 4000,
		check: func(t *testing.T, s nodepeer.Stats) {
			if s.MaxOpen < 100 {
				t.Errorf("at most %d streams open at the peer, want hundreds waiting for window", s.MaxOpen)
			}
		},
	},
	{
		// The peer's HPACK decoder table shrinks to 0 and grows back mid-connection, sometimes
		// in two back-to-back SETTINGS (0 then 4096: the encoder must signal the 0 too).
		name:  "HeaderTableShrink",
		cfg:   nodepeer.Config{TableEvery: 150, TableSizes: [][]int{{0}, {4096}, {0, 4096}, {256}, {64, 4096}}, DelayMS: 2},
		token: true, payload: 200,
		check: func(t *testing.T, s nodepeer.Stats) {
			if s.TableChanges < churnPushes/150 {
				t.Errorf("%d header table changes, want at least %d", s.TableChanges, churnPushes/150)
			}
			if s.Bearer == 0 {
				t.Error("no request carried a provider token")
			}
		},
	},
}

var churnRuns atomic.Uint32

// churnRow is one line of the delivery table.
type churnRow struct {
	scenario, transport                  string
	delivered, answered, failed, dup, of int
	stats                                nodepeer.Stats
	took                                 time.Duration
}

// TestChurn pushes churnPushes distinct tokens through a pool of each transport against the
// node peer in each scenario, and checks with the peer's counters that every push the pool
// called sent was delivered exactly once, and that every other push got an error answer
// from the peer: requests the peer did not process are sent again, not failed.
func TestChurn(t *testing.T) {
	peer := nodepeer.Start(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tlsCert, err := apnssim.ClientCertificate(churnTopic)
	if err != nil {
		t.Fatal(err)
	}
	var rows []churnRow
	for _, sc := range churnScenarios {
		t.Run(sc.name, func(t *testing.T) {
			for _, transport := range []string{apns.TransportH2, apns.TransportNetHTTP} {
				t.Run(strings.ReplaceAll(transport, "/", ""), func(t *testing.T) {
					cert := apns.Certificate{ID: churnID, Topic: churnTopic, TLS: &tlsCert}
					if sc.token {
						cert = apns.Certificate{ID: churnID, Topic: churnTopic, AuthKey: key, KeyID: "KEY1234567", TeamID: "TEAM123456"}
					}
					row := runChurn(t, peer, sc, transport, cert)
					rows = append(rows, row)
				})
			}
		})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-18s %-9s %11s %8s %6s %4s %7s %7s %8s %8s %7s\n", "scenario", "transport",
		"delivered", "answered", "failed", "dup", "refused", "goaways", "sessions", "streams", "took")
	for _, r := range rows {
		fmt.Fprintf(&b, "%-18s %-9s %5d/%-5d %8d %6d %4d %7d %7d %8d %8d %7s\n", r.scenario, r.transport,
			r.delivered, r.of, r.answered, r.failed, r.dup, r.stats.Refused, r.stats.GoAways,
			r.stats.Sessions, r.stats.Streams, r.took.Round(10*time.Millisecond))
	}
	t.Logf("churn against the node peer (%d pushes, %d in flight, one connection):\n%s", churnPushes, churnInFlight, b.String())
}

func runChurn(t *testing.T, peer *nodepeer.Peer, sc churnScenario, transport string, cert apns.Certificate) churnRow {
	if err := peer.Reset(); err != nil {
		t.Fatal(err)
	}
	cfg := sc.cfg
	cfg.Topic = churnTopic
	if err := peer.Configure(cfg); err != nil {
		t.Fatal(err)
	}
	p, err := apns.NewPool([]apns.Certificate{cert}, apns.Options{Host: peer.URL, RootCAs: peer.CertPool(),
		Transport: transport, Connections: 1, MaxConnections: 1, InFlight: churnInFlight, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	// Tokens unique to this run: a late request of an earlier run cannot pass for one of it.
	run := churnRuns.Add(1)
	tokens := make([]string, churnPushes)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("%08x%056x", run, i+1)
	}
	results := make([]apns.Result, churnPushes)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	work := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range churnInFlight {
		wg.Go(func() {
			for i := range work {
				results[i] = p.Send(ctx, churnID, churnNote(tokens[i], sc.payload), apns.Fast)
			}
		})
	}
	for i := range tokens {
		work <- i
	}
	close(work)
	wg.Wait()
	took := time.Since(start)
	time.Sleep(time.Duration(cfg.RestoreAfterMS) * time.Millisecond) // the last restore fires

	s, err := peer.Stats()
	if err != nil {
		t.Fatal(err)
	}
	row := churnRow{scenario: sc.name, transport: transport, of: churnPushes, stats: s, took: took}
	var lost, failures []string
	for i, r := range results {
		tok := tokens[i]
		n := s.Delivered[tok]
		switch {
		case r.Class == apns.Sent:
			row.delivered++
			if n == 0 {
				lost = append(lost, tok)
			}
		case r.Status != 0:
			row.answered++
			if s.Answered[tok] == 0 {
				t.Errorf("token %s: answer %d %s that the peer did not send", tok, r.Status, r.Reason)
			}
		default:
			row.failed++
			if len(failures) < 5 {
				failures = append(failures, fmt.Sprintf("%s: %v", tok[56:], r.Err))
			}
		}
		if n > 1 {
			row.dup++
		}
	}
	t.Logf("%s over %s: delivered %d/%d, error answers %d, failed %d, duplicates %d, in %v; peer: %d streams, %d sessions, %d refused, %d GOAWAYs, %d lowered, %d table changes, max %d open, %d lost answers",
		sc.name, transport, row.delivered, churnPushes, row.answered, row.failed, row.dup, took.Round(time.Millisecond),
		s.Streams, s.Sessions, s.Refused, s.GoAways, s.Lowered, s.TableChanges, s.MaxOpen, s.LostAnswers)
	known := sc.netHTTPLowerRace && transport == apns.TransportNetHTTP
	sessionErrors := s.SessionErrors
	if known {
		sessionErrors = slices.DeleteFunc(slices.Clone(sessionErrors), func(e string) bool { return strings.HasSuffix(e, "Protocol error") })
	}
	switch {
	case row.failed > 0 && known && len(sessionErrors) == 0:
		t.Logf("KNOWN net/http race: %d pushes failed as nghttp2 closed %d connections for a stream opened above the acknowledged limit, e.g. %s",
			row.failed, len(s.SessionErrors), strings.Join(failures, "; "))
	case row.failed > 0:
		t.Errorf("%d pushes failed without an answer from the peer, e.g. %s", row.failed, strings.Join(failures, "; "))
	}
	if len(lost) > 0 {
		t.Errorf("%d pushes called sent that the peer never delivered, e.g. %s", len(lost), lost[0])
	}
	if row.dup > 0 {
		t.Errorf("%d pushes delivered more than once", row.dup)
	}
	if len(sessionErrors) > 0 || len(s.GoAwaysReceived) > 0 {
		t.Errorf("peer saw connection errors %q, GOAWAYs from the client %q", sessionErrors, s.GoAwaysReceived)
	}
	if s.Bad > 0 {
		t.Errorf("peer got %d malformed requests, e.g. %q", s.Bad, s.BadSamples[:min(3, len(s.BadSamples))])
	}
	if sc.check != nil {
		sc.check(t, s)
	}
	return row
}

// churnNote is a notification to tok whose payload, about size bytes, names tok (the peer
// checks it) and is padded to size.
func churnNote(tok string, size int) *apns.Request {
	head := `{"aps":{"alert":{"title":"Alice","body":"hi"}},"t":"` + tok + `","pad":"`
	pad := max(0, size-len(head)-2)
	return &apns.Request{Token: tok, Topic: churnTopic, PushType: "alert", Priority: 10,
		Payload: []byte(head + strings.Repeat("x", pad) + `"}`)}
}

// TestChurnIdle checks that each transport's connection survives an idle spell of several
// ping intervals against the node peer, which answers the pings.
func TestChurnIdle(t *testing.T) {
	peer := nodepeer.Start(t)
	const ping = 100 * time.Millisecond
	cfg := &tls.Config{RootCAs: peer.CertPool()}
	var protos http.Protocols
	protos.SetHTTP2(true)
	transports := map[string]http.RoundTripper{
		apns.TransportH2: &h2.Transport{TLSConfig: cfg, PingInterval: ping},
		apns.TransportNetHTTP: &http.Transport{TLSClientConfig: cfg, Protocols: &protos,
			HTTP2: &http.HTTP2Config{SendPingTimeout: ping, PingTimeout: time.Second}},
	}
	for name, rt := range transports {
		t.Run(strings.ReplaceAll(name, "/", ""), func(t *testing.T) {
			if err := peer.Reset(); err != nil {
				t.Fatal(err)
			}
			client := &http.Client{Transport: rt, Timeout: 5 * time.Second}
			for i := range 2 {
				tok := fmt.Sprintf("%064x", i+1)
				resp, err := client.Post(peer.URL+"/3/device/"+tok, "application/json", strings.NewReader(`{"aps":{}}`))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Fatalf("push %d: %s", i, resp.Status)
				}
				if i == 0 {
					time.Sleep(8 * ping)
				}
			}
			s, err := peer.Stats()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d pings in %v idle, %d connections", name, s.Pings, 8*ping, s.Sessions)
			if s.Pings < 3 || s.Sessions != 1 {
				t.Errorf("%d pings and %d connections, want several pings on one connection", s.Pings, s.Sessions)
			}
		})
	}
}
