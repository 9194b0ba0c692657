package h2

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sideshow/apns2"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"offpush/apnssim"
)

const topic = "com.example.im"

// token is the i-th test device token (64 hex digits).
func token(i int) string { return fmt.Sprintf("%064x", i) }

// apnsID is the i-th request's apns-id (a UUID the simulator echoes back).
func apnsID(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012x", i) }

// TestSimulator sends 1000 concurrent pushes through apns2 to the simulator and checks each
// answer came back on its own stream and each push arrived intact.
func TestSimulator(t *testing.T) {
	sim, err := apnssim.New(apnssim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sim.Start()
	defer sim.Close()
	cert, err := apnssim.ClientCertificate(topic)
	if err != nil {
		t.Fatal(err)
	}
	tr := &Transport{TLSConfig: &tls.Config{RootCAs: sim.CertPool(), Certificates: []tls.Certificate{cert}}}
	defer tr.Close()
	client := &apns2.Client{Host: sim.URL(), HTTPClient: &http.Client{Transport: tr}}
	const n = 1000
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			res, err := client.PushWithContext(context.Background(), &apns2.Notification{
				DeviceToken: token(i), Topic: topic, ApnsID: apnsID(i), CollapseID: fmt.Sprint("c", i),
				Payload: fmt.Sprintf(`{"aps":{"badge":%d}}`, i),
			})
			if err != nil || !res.Sent() || res.ApnsID != apnsID(i) {
				t.Errorf("push %d: %+v, %v; want 200 with apns-id %s", i, res, err, apnsID(i))
			}
		})
	}
	wg.Wait()
	got := map[string]apnssim.Delivery{}
	for _, d := range sim.Deliveries() {
		got[d.Headers.ID] = d
	}
	for i := range n {
		d, ok := got[apnsID(i)]
		if !ok || d.Token != token(i) || d.Headers.CollapseID != fmt.Sprint("c", i) ||
			string(d.Payload) != fmt.Sprintf(`{"aps":{"badge":%d}}`, i) {
			t.Fatalf("delivery %d = %+v, want token, collapse id and payload of push %d", i, d, i)
		}
	}
	if c := sim.Stats().Connections; c != 1 {
		t.Errorf("%d connections, want 1", c)
	}
}

// server is an httptest HTTP/2 TLS server with handler h; configure adjusts it before start.
func server(t *testing.T, h http.HandlerFunc, configure func(*http.Server)) (*httptest.Server, *Transport, *atomic.Int64) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	conns := new(atomic.Int64)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Config.ErrorLog = nil
	if configure != nil {
		configure(srv.Config)
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	tr := &Transport{TLSConfig: srv.Client().Transport.(*http.Transport).TLSClientConfig}
	t.Cleanup(func() { _ = tr.Close() })
	return srv, tr, conns
}

// get sends a POST with body to path on srv through tr.
func post(ctx context.Context, tr http.RoundTripper, srv *httptest.Server, path, body string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+path, strings.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// echo answers with the request path in X-Path and the request body as the response body.
func echo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Path", r.URL.Path)
	_, _ = io.Copy(w, r.Body)
}

// TestConcurrentEcho checks that 1000 concurrent requests each get their own answer.
func TestConcurrentEcho(t *testing.T) {
	srv, tr, conns := server(t, echo, nil)
	var wg sync.WaitGroup
	for i := range 1000 {
		wg.Go(func() {
			path, body := "/3/device/"+token(i), strings.Repeat(fmt.Sprint(i), i%50+1)
			resp, b, err := post(context.Background(), tr, srv, path, body)
			if err != nil || resp.StatusCode != 200 || resp.Header.Get("X-Path") != path || string(b) != body {
				t.Errorf("request %d: %v %v, body %d bytes", i, resp, err, len(b))
			}
		})
	}
	wg.Wait()
	if conns.Load() != 1 {
		t.Errorf("%d connections, want 1", conns.Load())
	}
}

// TestMaxConcurrentStreams checks that requests beyond the server's stream limit wait for a
// free stream instead of failing.
func TestMaxConcurrentStreams(t *testing.T) {
	var cur, peak atomic.Int64
	h := func(w http.ResponseWriter, r *http.Request) {
		n := cur.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(20 * time.Millisecond)
		cur.Add(-1)
	}
	srv, tr, _ := server(t, h, func(s *http.Server) { s.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: 5} })
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			if resp, _, err := post(context.Background(), tr, srv, "/", "x"); err != nil || resp.StatusCode != 200 {
				t.Errorf("request %d: %v %v", i, resp, err)
			}
		})
	}
	wg.Wait()
	if p := peak.Load(); p != 5 {
		t.Errorf("at most %d requests at once at the server, want 5", p)
	}
}

// TestLargeResponse checks that a response larger than the receive windows arrives whole:
// the client returns received bytes with WINDOW_UPDATE.
func TestLargeResponse(t *testing.T) {
	want := bytes.Repeat([]byte("0123456789abcdef"), 200<<10/16)
	srv, tr, _ := server(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(want) }, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 3 { // beyond the connection window too
		resp, b, err := post(ctx, tr, srv, "/", "")
		if err != nil || resp.StatusCode != 200 || !bytes.Equal(b, want) {
			t.Fatalf("%v %v, %d bytes, want %d", resp, err, len(b), len(want))
		}
	}
}

// TestCancel checks that a cancelled request returns its context's error at once, resets its
// stream at the server, and frees the stream for others.
func TestCancel(t *testing.T) {
	reset := make(chan struct{}, 1)
	h := func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			<-r.Context().Done()
			reset <- struct{}{}
		}
	}
	srv, tr, _ := server(t, h, func(s *http.Server) { s.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: 1} })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, _, err := post(ctx, tr, srv, "/block", "x"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled request: %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancelled request returned after %v", d)
	}
	select {
	case <-reset:
	case <-time.After(5 * time.Second):
		t.Fatal("the server did not see the stream reset")
	}
	if resp, _, err := post(context.Background(), tr, srv, "/", "x"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("request after the cancelled one: %v %v", resp, err)
	}
}

// TestConnectionLoss checks that requests in flight when the connection drops fail with an
// error, and that later requests succeed on a new connection.
func TestConnectionLoss(t *testing.T) {
	var arrived atomic.Int64
	h := func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		if r.URL.Path == "/slow" {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}
	}
	srv, tr, conns := server(t, h, nil)
	const n = 20
	errs := make(chan error, n)
	for range n {
		go func() { _, _, err := post(context.Background(), tr, srv, "/slow", "x"); errs <- err }()
	}
	for arrived.Load() < n {
		time.Sleep(time.Millisecond)
	}
	srv.CloseClientConnections()
	for range n {
		if err := <-errs; !errors.Is(err, ErrConnClosed) {
			t.Errorf("request in flight: %v, want ErrConnClosed", err)
		}
	}
	if resp, _, err := post(context.Background(), tr, srv, "/", "x"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("request after the loss: %v %v", resp, err)
	}
	if c := conns.Load(); c != 2 {
		t.Errorf("%d connections, want 2", c)
	}
}

// TestGoAway checks that a GOAWAY lets requests in flight finish and that later requests go
// to a new connection without an error.
func TestGoAway(t *testing.T) {
	release := make(chan struct{})
	var arrived atomic.Int64
	h := func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		if r.URL.Path == "/slow" {
			<-release
		}
	}
	srv, tr, conns := server(t, h, func(s *http.Server) { s.IdleTimeout = 200 * time.Millisecond })
	if _, _, err := post(context.Background(), tr, srv, "/", "x"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // idle: the server sends GOAWAY and closes
	if resp, _, err := post(context.Background(), tr, srv, "/", "x"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("request after GOAWAY: %v %v", resp, err)
	}
	if c := conns.Load(); c != 2 {
		t.Errorf("%d connections, want 2", c)
	}
	// Graceful shutdown mid-load: GOAWAY with the last stream id; the streams in flight finish.
	const n = 10
	errs := make(chan error, n)
	for range n {
		go func() { _, _, err := post(context.Background(), tr, srv, "/slow", "x"); errs <- err }()
	}
	for arrived.Load() < n+2 {
		time.Sleep(time.Millisecond)
	}
	done := make(chan error)
	go func() { done <- srv.Config.Shutdown(context.Background()) }()
	time.Sleep(100 * time.Millisecond)
	close(release)
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("request in flight at GOAWAY: %v", err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestHeaderIndexing checks the HPACK encoding: constant headers indexed (a second request
// sends them as one-byte references), unique ones never indexed.
func TestHeaderIndexing(t *testing.T) {
	c := &Conn{enc: newEncoder(defaultTableSize)}
	var blocks [][]byte
	for i := range 2 {
		req, _ := http.NewRequest(http.MethodPost, "https://api.push.apple.com/3/device/"+token(i), strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		req.Header.Set("apns-topic", topic)
		req.Header.Set("apns-push-type", "alert")
		req.Header.Set("apns-collapse-id", fmt.Sprint("msg-", i))
		req.Header.Set("authorization", "bearer "+strings.Repeat("j", 200))
		s, err := newStream(req, authority(req))
		if err != nil {
			t.Fatal(err)
		}
		c.wbuf = c.wbuf[:0]
		c.writeHeaders(1, s.fields, false, defaultFrameSize)
		blocks = append(blocks, append([]byte(nil), c.wbuf[9:]...))
	}
	dec := hpack.NewDecoder(defaultTableSize, nil)
	for i, b := range blocks {
		fields, err := dec.DecodeFull(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fields {
			unique := f.Name == ":path" || f.Name == "apns-collapse-id" || f.Name == "content-length"
			if f.Sensitive != unique {
				t.Errorf("request %d: %s never-indexed %v, want %v", i, f.Name, f.Sensitive, unique)
			}
		}
	}
	for _, constant := range []string{"bearer jjj", topic, "application/json", "api.push.apple.com"} {
		if !bytes.Contains(blocks[0], []byte(constant)) || bytes.Contains(blocks[1], []byte(constant)) {
			t.Errorf("%q: want it literal in the first header block only, then a reference", constant)
		}
	}
}

// TestEncoder checks that an hpack.Decoder reads back what the encoder wrote, across
// insertions, evictions and table size changes.
func TestEncoder(t *testing.T) {
	e := newEncoder(defaultTableSize)
	dec := hpack.NewDecoder(defaultTableSize, nil)
	for i := range 300 {
		switch i {
		case 100: // the peer shrinks the table: every second JWT evicts the one before
			e.setMaxSize(400)
			dec.SetAllowedMaxDynamicTableSize(400)
		case 200: // no dynamic table at all
			e.setMaxSize(0)
			dec.SetAllowedMaxDynamicTableSize(0)
		}
		fields := []hpack.HeaderField{
			{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "https"},
			{Name: ":authority", Value: "api.push.apple.com"},
			{Name: ":path", Value: "/3/device/" + token(i), Sensitive: true},
			{Name: "apns-topic", Value: topic},
			{Name: "apns-priority", Value: fmt.Sprint(5 + 5*(i%2))},
			{Name: "authorization", Value: "bearer " + strings.Repeat(fmt.Sprint(i/10), 250)},
			{Name: "apns-collapse-id", Value: strings.Repeat("c", i), Sensitive: true}, // long: multi-byte lengths
		}
		got, err := dec.DecodeFull(e.appendBlock(nil, fields))
		if err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(fields) {
			t.Fatalf("block %d decoded as\n%v, want\n%v", i, got, fields)
		}
	}
}

// TestLargeResponseHeaders checks response headers that span CONTINUATION frames, and that
// headers beyond the limit fail their request only.
func TestLargeResponseHeaders(t *testing.T) {
	big := strings.Repeat("a", 40<<10) // beyond one 16 KB frame
	h := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Big", big)
		if r.URL.Path == "/huge" { // 120 KB in all
			w.Header().Set("X-Big-2", big)
			w.Header().Set("X-Big-3", big)
		}
	}
	srv, tr, conns := server(t, h, func(s *http.Server) { s.MaxHeaderBytes = 1 << 20 })
	resp, _, err := post(context.Background(), tr, srv, "/", "")
	if err != nil || resp.Header.Get("X-Big") != big {
		t.Fatalf("%v, X-Big of %d bytes, want %d", err, len(resp.Header.Get("X-Big")), len(big))
	}
	if _, _, err := post(context.Background(), tr, srv, "/huge", ""); err == nil {
		t.Error("headers beyond the limit: no error")
	}
	if resp, _, err := post(context.Background(), tr, srv, "/", ""); err != nil || resp.StatusCode != 200 || conns.Load() != 1 {
		t.Errorf("after headers beyond the limit: %v, %d connections, want 1", err, conns.Load())
	}
}

// TestStreamIDsExhausted checks that a connection whose stream ids run out is replaced
// without failing requests.
func TestStreamIDsExhausted(t *testing.T) {
	srv, tr, conns := server(t, echo, nil)
	tr.maxID = 7 // streams 1, 3, 5, 7 per connection
	for i := range 10 {
		if resp, b, err := post(context.Background(), tr, srv, "/", fmt.Sprint(i)); err != nil || string(b) != fmt.Sprint(i) {
			t.Fatalf("request %d: %v %v", i, resp, err)
		}
	}
	if c := conns.Load(); c != 3 {
		t.Errorf("%d connections, want 3", c)
	}
}

// TestPingTimeout checks that a connection whose server stops answering fails its requests
// after about two ping intervals, and that a new connection replaces it.
func TestPingTimeout(t *testing.T) {
	h := func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-r.Context().Done()
		}
	}
	srv, tr, conns := server(t, h, nil)
	p := newProxy(t, srv.Listener.Addr().String())
	tr.Addr, tr.PingInterval = p.addr, 50*time.Millisecond
	if _, _, err := post(context.Background(), tr, srv, "/", "x"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // idle, answered pings keep the connection
	p.frozen.Store(true)               // from now on nothing reaches the client
	start := time.Now()
	if _, _, err := post(context.Background(), tr, srv, "/slow", "x"); !errors.Is(err, ErrConnClosed) {
		t.Fatalf("request on a silent connection: %v, want ErrConnClosed", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("failed after %v", d)
	}
	p.frozen.Store(false)
	if _, _, err := post(context.Background(), tr, srv, "/", "x"); err != nil || conns.Load() != 2 {
		t.Fatalf("after the silent connection: %v, %d connections, want 2", err, conns.Load())
	}
}

// proxy forwards TCP connections to a server; while frozen it drops what the server sends.
type proxy struct {
	addr   string
	frozen atomic.Bool
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p := &proxy{addr: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			go func() { _, _ = io.Copy(s, c); s.Close() }()
			go func() { p.copyBack(c, s); c.Close() }()
		}
	}()
	return p
}

func (p *proxy) copyBack(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.frozen.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// rawServer is an HTTP/2 server scripted frame by frame: serve gets the n-th connection's
// framer (after the preface and the SETTINGS exchange) and each frame the client sends.
type rawServer struct {
	addr  string
	conns atomic.Int64
}

func newRawServer(t *testing.T, serve func(conn int, fr *http2.Framer, f http2.Frame)) (*rawServer, *Transport) {
	t.Helper()
	return newRawServerHPACK(t, true, serve)
}

// newRawServerHPACK is newRawServer whose serve gets, unless decode, the request HEADERS
// frames undecoded (*http2.HeadersFrame with the encoder's bytes).
func newRawServerHPACK(t *testing.T, decode bool, serve func(conn int, fr *http2.Framer, f http2.Frame)) (*rawServer, *Transport) {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil) // for its certificate only
	ts.EnableHTTP2 = true
	ts.StartTLS()
	cfg := ts.Client().Transport.(*http.Transport).TLSClientConfig
	srvCfg := ts.TLS.Clone()
	ts.Close()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srvCfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s := &rawServer{addr: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serveConn(c, int(s.conns.Add(1)), decode, serve)
		}
	}()
	tr := &Transport{Addr: s.addr, TLSConfig: cfg}
	t.Cleanup(func() { _ = tr.Close() })
	return s, tr
}

func (s *rawServer) serveConn(c net.Conn, n int, decode bool, serve func(int, *http2.Framer, http2.Frame)) {
	defer c.Close()
	preface := make([]byte, len(clientPreface))
	if _, err := io.ReadFull(c, preface); err != nil {
		return
	}
	fr := http2.NewFramer(c, c)
	if decode {
		fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	}
	if fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 100}) != nil {
		return
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			_ = fr.WriteSettingsAck()
			continue
		}
		serve(n, fr, f)
	}
}

// respond answers a stream with 200 and its id in X-Stream.
func respond(fr *http2.Framer, id uint32) {
	var b bytes.Buffer
	enc := hpack.NewEncoder(&b)
	_ = enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
	_ = enc.WriteField(hpack.HeaderField{Name: "x-stream", Value: fmt.Sprint(id)})
	_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: b.Bytes(), EndHeaders: true, EndStream: true})
}

// TestGoAwayUnprocessed checks that requests above a GOAWAY's last stream id and refused
// streams are sent again, transparently, and that a connection that refused a stream stays
// in use.
func TestGoAwayUnprocessed(t *testing.T) {
	serve := func(conn int, fr *http2.Framer, f http2.Frame) {
		d, ok := f.(*http2.DataFrame)
		if !ok || !d.StreamEnded() {
			return
		}
		switch id := d.StreamID; {
		case conn == 1 && id == 1:
			respond(fr, id)
		case conn == 1: // streams 3 and later were not processed
			_ = fr.WriteGoAway(1, http2.ErrCodeNo, nil)
		case conn == 2 && id == 1:
			_ = fr.WriteRSTStream(id, http2.ErrCodeRefusedStream)
		default:
			respond(fr, id)
		}
	}
	srv, tr := newRawServer(t, serve)
	client := &http.Client{Transport: tr}
	wantStreams := []string{"1", "3", "5"} // conn 1 stream 1; conn 2 stream 3 after the refused 1; then 5
	for i, want := range wantStreams {
		resp, err := client.Post("https://"+srv.addr+"/", "text/plain", strings.NewReader("x"))
		if err != nil || resp.StatusCode != 200 || resp.Header.Get("X-Stream") != want {
			t.Fatalf("request %d: %v %v, want 200 on stream %s", i, resp, err, want)
		}
	}
	if c := srv.conns.Load(); c != 2 {
		t.Errorf("%d connections, want 2", c)
	}
}

// TestRefusedUntilDeadline checks that a refused stream is not an attempt: a request the
// server refuses six times (more than any fixed attempt count would allow) is sent again
// with a backoff until the server answers, and one refused for ever ends with its context.
func TestRefusedUntilDeadline(t *testing.T) {
	var refusals, limit atomic.Int32
	limit.Store(6)
	serve := func(_ int, fr *http2.Framer, f http2.Frame) {
		d, ok := f.(*http2.DataFrame)
		if !ok || !d.StreamEnded() {
			return
		}
		if refusals.Add(1) <= limit.Load() {
			_ = fr.WriteRSTStream(d.StreamID, http2.ErrCodeRefusedStream)
			return
		}
		respond(fr, d.StreamID)
	}
	srv, tr := newRawServer(t, serve)
	client := &http.Client{Transport: tr}
	resp, err := client.Post("https://"+srv.addr+"/", "text/plain", strings.NewReader("x"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after %d refusals: %v %v, want 200", limit.Load(), resp, err)
	}
	if got := refusals.Load(); got != limit.Load()+1 {
		t.Errorf("server saw %d sends, want %d", got, limit.Load()+1)
	}

	refusals.Store(0)
	limit.Store(1 << 30)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+srv.addr+"/", strings.NewReader("x"))
	if resp, err := client.Do(req); err == nil {
		t.Fatalf("refused for ever: %v, want an error at the deadline", resp.Status)
	}
	if n := refusals.Load(); n < 3 || n > 20 {
		t.Errorf("%d sends in 200 ms, want a few, spaced by the backoff", n)
	}
}

// TestTableShrinkAndRegrow checks that when the server shrinks its header table and grows it
// again before our next request, that request's header block signals both sizes, the
// smallest first (RFC 7541 §4.2): nghttp2 fails the connection with COMPRESSION_ERROR if
// only the final size comes.
func TestTableShrinkAndRegrow(t *testing.T) {
	e := newEncoder(defaultTableSize)
	e.setMaxSize(0)
	e.setMaxSize(defaultTableSize)
	updates := []byte{0x20, 0x3f, 0xe1, 0x1f} // size updates to 0 and to 4096
	if b := e.appendBlock(nil, nil); !bytes.Equal(b, updates) {
		t.Errorf("encoder block after 0 then 4096: % x, want % x", b, updates)
	}
	if b := e.appendBlock(nil, nil); len(b) != 0 {
		t.Errorf("next block: % x, want no size update", b)
	}

	var mu sync.Mutex
	var blocks [][]byte
	serve := func(_ int, fr *http2.Framer, f http2.Frame) {
		switch f := f.(type) {
		case *http2.HeadersFrame:
			mu.Lock()
			blocks = append(blocks, bytes.Clone(f.HeaderBlockFragment()))
			mu.Unlock()
		case *http2.DataFrame:
			if !f.StreamEnded() {
				return
			}
			if f.StreamID == 1 {
				_ = fr.WriteSettings(http2.Setting{ID: http2.SettingHeaderTableSize, Val: 0})
				_ = fr.WriteSettings(http2.Setting{ID: http2.SettingHeaderTableSize, Val: defaultTableSize})
			}
			respond(fr, f.StreamID)
		}
	}
	srv, tr := newRawServerHPACK(t, false, serve)
	client := &http.Client{Transport: tr}
	for i := range 2 {
		resp, err := client.Post("https://"+srv.addr+"/", "text/plain", strings.NewReader("x"))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("request %d: %v %v", i, resp, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(blocks) != 2 || !bytes.HasPrefix(blocks[1], updates) {
		t.Fatalf("second header block starts % x, want the size updates % x", blocks[len(blocks)-1][:4], updates)
	}
}

// TestGoAwayError checks that a GOAWAY with an error code fails the streams it names as
// received at once, rather than at their deadlines (the server closes such a connection
// without answering them), and that the next request goes on a new connection.
func TestGoAwayError(t *testing.T) {
	serve := func(conn int, fr *http2.Framer, f http2.Frame) {
		d, ok := f.(*http2.DataFrame)
		if !ok || !d.StreamEnded() {
			return
		}
		if conn == 1 {
			_ = fr.WriteGoAway(d.StreamID, http2.ErrCodeCompression, nil) // and the connection stays open
			return
		}
		respond(fr, d.StreamID)
	}
	srv, tr := newRawServer(t, serve)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+srv.addr+"/", strings.NewReader("x"))
	resp, err := tr.RoundTrip(req)
	if err == nil {
		t.Fatalf("after GOAWAY COMPRESSION_ERROR: %v, want an error", resp.Status)
	}
	if took := time.Since(start); took > time.Second || ctx.Err() != nil || !errors.Is(err, ErrConnClosed) {
		t.Errorf("failed after %v with %v, want ErrConnClosed at once", took, err)
	}
	resp, err = (&http.Client{Transport: tr}).Post("https://"+srv.addr+"/", "text/plain", strings.NewReader("x"))
	if err != nil || resp.StatusCode != 200 || srv.conns.Load() != 2 {
		t.Fatalf("next request: %v %v on %d connections, want 200 on a second one", resp, err, srv.conns.Load())
	}
}

// TestTimeout checks Transport.Timeout without a deadline in the request's context: a sent
// request that gets no answer and one queued behind it (the server allows one stream) both
// fail with DeadlineExceeded, the sent one's stream is reset at the server, and the
// connection serves the next request; a request the server refuses for ever ends too.
func TestTimeout(t *testing.T) {
	reset := make(chan struct{}, 1)
	h := func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			<-r.Context().Done()
			reset <- struct{}{}
		}
	}
	srv, tr, conns := server(t, h, func(s *http.Server) { s.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: 1} })
	tr.Timeout = 300 * time.Millisecond
	if resp, _, err := post(context.Background(), tr, srv, "/", "x"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("first request: %v %v", resp, err) // dialled: the server's limit is known
	}
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, _, err := post(context.Background(), tr, srv, "/block", "x")
			errs <- err
		}()
	}
	start := time.Now()
	for range 2 {
		select {
		case err := <-errs:
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("unanswered request: %v, want DeadlineExceeded", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("unanswered requests did not end with Transport.Timeout")
		}
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("unanswered requests ended after %v, before the 300ms timeout", d)
	}
	select {
	case <-reset:
	case <-time.After(5 * time.Second):
		t.Fatal("the server did not see the timed-out stream reset")
	}
	if resp, _, err := post(context.Background(), tr, srv, "/", "x"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("request after the timed-out ones: %v %v", resp, err)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections, want the first one kept", n)
	}

	serve := func(_ int, fr *http2.Framer, f http2.Frame) {
		if d, ok := f.(*http2.DataFrame); ok && d.StreamEnded() {
			_ = fr.WriteRSTStream(d.StreamID, http2.ErrCodeRefusedStream)
		}
	}
	raw, rtr := newRawServer(t, serve)
	rtr.Timeout = 200 * time.Millisecond
	start = time.Now()
	_, err := (&http.Client{Transport: rtr}).Post("https://"+raw.addr+"/", "text/plain", strings.NewReader("x"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("refused for ever: %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("refused for ever: gave up after %v, before the 200ms timeout", d)
	}
}
