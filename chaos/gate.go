package chaos

import (
	"net"
	"sync"
)

// gate is a net.Listener for kfake that the harness can take down and bring back: Down
// closes the listening socket (new connections are refused) and resets every open
// connection; Up listens on the same address again. kfake's accept loop does not notice: its
// Accept blocks while the gate is down.
type gate struct {
	mu     sync.Mutex
	addr   net.Addr
	ln     net.Listener // nil while down
	up     chan struct{}
	closed chan struct{}
	conns  map[net.Conn]struct{}
}

// listen is the kfake.ListenFn that opens the gate.
func (g *gate) listen(network, address string) (net.Listener, error) {
	ln, err := net.Listen(network, address)
	if err != nil {
		return nil, err
	}
	g.addr, g.ln = ln.Addr(), ln
	g.up, g.closed = make(chan struct{}), make(chan struct{})
	close(g.up)
	g.conns = map[net.Conn]struct{}{}
	return g, nil
}

// Accept returns the next connection, waiting while the gate is down.
func (g *gate) Accept() (net.Conn, error) {
	for {
		g.mu.Lock()
		ln, up := g.ln, g.up
		g.mu.Unlock()
		if ln == nil {
			select {
			case <-up:
				continue
			case <-g.closed:
				return nil, net.ErrClosed
			}
		}
		c, err := ln.Accept()
		if err != nil {
			if g.isDown(ln) {
				continue
			}
			return nil, err
		}
		if g.track(c) {
			return gateConn{c, g}, nil
		}
	}
}

// isDown reports whether ln was closed by Down (not by Close).
func (g *gate) isDown(ln net.Listener) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.closed:
		return false
	default:
		return g.ln != ln
	}
}

// track records c so that Down can reset it; false (and c closed) when the gate went down.
func (g *gate) track(c net.Conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ln == nil {
		resetConn(c)
		return false
	}
	g.conns[c] = struct{}{}
	return true
}

// gateConn is an accepted connection that leaves the gate's set when closed.
type gateConn struct {
	net.Conn
	g *gate
}

// Close closes the connection and forgets it.
func (c gateConn) Close() error {
	c.g.mu.Lock()
	delete(c.g.conns, c.Conn)
	c.g.mu.Unlock()
	return c.Conn.Close()
}

// Down refuses new connections and resets the open ones until Up.
func (g *gate) Down() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ln == nil {
		return
	}
	_ = g.ln.Close()
	g.ln, g.up = nil, make(chan struct{})
	for c := range g.conns {
		resetConn(c)
	}
	clear(g.conns)
}

// Up listens on the gate's address again.
func (g *gate) Up() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", g.addr.String())
	if err != nil {
		return err
	}
	g.ln = ln
	close(g.up)
	return nil
}

// Close closes the gate for good (kfake's Close calls it).
func (g *gate) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.closed:
		return nil
	default:
	}
	close(g.closed)
	if g.ln != nil {
		return g.ln.Close()
	}
	return nil
}

// Addr is the gate's address, the same while up and down.
func (g *gate) Addr() net.Addr { return g.addr }

// resetConn closes c with a TCP RST rather than a FIN, as a crashed peer or a broken path does.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
