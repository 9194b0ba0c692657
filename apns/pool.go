// Package apns sends notifications to Apple Push Notification service (APNs) over HTTP/2 with
// sideshow/apns2: a few connections per certificate, a bound on requests in flight, and one
// classification of every answer (Classify) that tells the pipeline what to do next.
package apns

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sideshow/apns2"
	"github.com/sideshow/apns2/token"
)

// Certificate is the parsed credential of one busiId: either a TLS client certificate
// (certificate auth) or an ES256 .p8 key with its key id and team id (token auth).
type Certificate struct {
	ID         int    // busiId
	Topic      string // apns-topic: the app's bundle id
	Production bool   // api.push.apple.com rather than the sandbox

	TLS *tls.Certificate // certificate auth

	AuthKey *ecdsa.PrivateKey // token auth
	KeyID   string
	TeamID  string

	// VoIP marks a certificate-auth VoIP Services certificate: it sends PushKit pushes only.
	// A token-auth key sends both kinds; any other TLS certificate, alerts only.
	VoIP bool

	NotAfter time.Time // informational: APNs, not the pool, refuses an expired certificate
}

// Options tunes a Pool. Zero values take the defaults shown.
type Options struct {
	Host        string         // APNs base URL, e.g. the simulator's; "" → apns2.HostProduction/HostDevelopment by certificate
	RootCAs     *x509.CertPool // nil → the system roots
	Connections int            // HTTP/2 connections per certificate at start; default 2
	// MaxConnections is how many connections a certificate may grow to when its requests
	// wait and its connections' stream limits sum to less than InFlight (h2 transport only);
	// default max(4, Connections).
	MaxConnections int
	// InFlight bounds the concurrent requests per certificate; with the h2 transport also
	// the sum of the connections' SETTINGS_MAX_CONCURRENT_STREAMS does. Default 4000.
	InFlight int
	// Timeout bounds each request (attempt); default 10s. With the h2 transport the
	// connection enforces it (up to Timeout/10, at most 1s, late) without a timer per request.
	Timeout   time.Duration
	Transport string // HTTP/2 client: TransportNetHTTP or TransportH2; default DefaultTransport
}

// Transports of Options.Transport.
const (
	TransportNetHTTP = "net/http" // net/http's HTTP/2 client
	TransportH2      = "h2"       // apns/h2: one writer and one reader goroutine per connection, coalesced writes
)

// Defaults of Options.
const (
	DefaultConnections    = 2
	DefaultMaxConnections = 4    // or Connections when that is more
	DefaultInFlight       = 4000 // DefaultMaxConnections × the 1000 streams APNs allows on each
	DefaultTimeout        = 10 * time.Second
	// DefaultTransport is apns/h2, which costs the worker less CPU per push than net/http's
	// HTTP/2 client (offpush bench --transport compares them).
	DefaultTransport = TransportH2
)

func (o Options) withDefaults() Options {
	if o.Connections <= 0 {
		o.Connections = DefaultConnections
	}
	if o.MaxConnections <= 0 {
		o.MaxConnections = max(DefaultMaxConnections, o.Connections)
	}
	o.MaxConnections = max(o.MaxConnections, o.Connections)
	if o.InFlight <= 0 {
		o.InFlight = DefaultInFlight
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Transport == "" {
		o.Transport = DefaultTransport
	}
	o.Host = strings.TrimSuffix(o.Host, "/")
	return o
}

func (o Options) validate() error {
	if o.Transport != TransportNetHTTP && o.Transport != TransportH2 {
		return fmt.Errorf("transport %q: want %s or %s", o.Transport, TransportNetHTTP, TransportH2)
	}
	return nil
}

// Pool is the registry of the configured certificates by busiId: it answers whether one is
// configured, its topic and the kinds of push it sends, and sends with it. It is safe for
// concurrent use.
type Pool struct {
	senders map[int]*sender
}

// Kinds are the kinds of push a certificate sends, as a bit set.
type Kinds uint8

// Push kinds.
const (
	Alerts Kinds = 1 << iota // ordinary notifications
	VoIP                     // PushKit call pushes
)

// Kinds is what c sends: both kinds with token auth, VoIP pushes only with a VoIP Services
// certificate, alerts only with any other TLS certificate.
func (c *Certificate) Kinds() Kinds {
	switch {
	case c.AuthKey != nil:
		return Alerts | VoIP
	case c.VoIP:
		return VoIP
	}
	return Alerts
}

// Known reports whether busiID is a configured certificate.
func (p *Pool) Known(busiID int) bool { return p.senders[busiID] != nil }

// Topic is the apns-topic (the app's bundle id) of busiID's certificate; false when busiID is
// not configured.
func (p *Pool) Topic(busiID int) (string, bool) {
	if s := p.senders[busiID]; s != nil {
		return s.cert.Topic, true
	}
	return "", false
}

// Sends reports whether busiID's certificate is configured and sends pushes of kind k.
func (p *Pool) Sends(busiID int, k Kinds) bool {
	s := p.senders[busiID]
	return s != nil && s.cert.Kinds()&k != 0
}

// NewPool builds the clients of every certificate. It does not connect: connections open on
// the first Send and stay open. Certificates with the same .p8 key (team id and key id) share
// one provider token, which apns2 regenerates every 50 minutes.
func NewPool(certs []Certificate, opts Options) (*Pool, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	p := &Pool{senders: make(map[int]*sender, len(certs))}
	tokens := make(map[string]*token.Token)
	for _, c := range certs {
		if _, dup := p.senders[c.ID]; dup {
			return nil, fmt.Errorf("certificate %d: duplicate id", c.ID)
		}
		if err := c.validate(); err != nil {
			return nil, fmt.Errorf("certificate %d: %w", c.ID, err)
		}
		tok, err := sharedToken(tokens, c)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", c.ID, err)
		}
		p.senders[c.ID] = newSender(c, tok, opts)
	}
	return p, nil
}

// sharedToken is the provider token of c's key, made and signed on first use; nil for
// certificate auth.
func sharedToken(tokens map[string]*token.Token, c Certificate) (*token.Token, error) {
	if c.AuthKey == nil {
		return nil, nil
	}
	id := c.TeamID + "/" + c.KeyID
	if tok := tokens[id]; tok != nil {
		if !tok.AuthKey.Equal(c.AuthKey) {
			return nil, fmt.Errorf("key id %s of team %s: a different key than another certificate's", c.KeyID, c.TeamID)
		}
		return tok, nil
	}
	tok := &token.Token{AuthKey: c.AuthKey, KeyID: c.KeyID, TeamID: c.TeamID}
	if _, err := tok.Generate(); err != nil {
		return nil, fmt.Errorf("sign provider token: %w", err)
	}
	tokens[id] = tok
	return tok, nil
}

func (c *Certificate) validate() error {
	switch {
	case c.Topic == "":
		return errors.New("empty topic")
	case c.TLS == nil && c.AuthKey == nil:
		return errors.New("neither a TLS certificate nor an auth key")
	case c.TLS != nil && c.AuthKey != nil:
		return errors.New("both a TLS certificate and an auth key")
	case c.AuthKey != nil && (c.KeyID == "" || c.TeamID == ""):
		return errors.New("token auth needs a key id and a team id")
	}
	return nil
}

// Send pushes n with the certificate of busiID and classifies the answer. It waits for an
// in-flight slot as long as ctx allows, behind the waiting requests of its lane and, in the
// Bulk lane, of the Fast lane; a Result with Class Retry and ctx's error says it gave up.
func (p *Pool) Send(ctx context.Context, busiID int, n *Request, lane Lane) Result {
	s := p.senders[busiID]
	if s == nil {
		return Result{Class: Permanent, Reason: ReasonUnknownCertificate,
			Err: fmt.Errorf("busiId %d: %w", busiID, ErrUnknownCertificate)}
	}
	if err := s.slots.Acquire(ctx, lane); err != nil {
		return Result{Class: Retry, Err: fmt.Errorf("wait for an in-flight slot: %w", err)}
	}
	defer s.slots.Release(lane)
	return s.push(ctx, n, lane)
}

// Close closes the idle connections of every certificate. Sends in flight finish.
func (p *Pool) Close() {
	for _, s := range p.senders {
		s.close()
	}
}

// notification is the apns2 request for n; the payload bytes go out as they are.
func notification(n *Request) *apns2.Notification {
	return &apns2.Notification{
		ApnsID:      n.ID,
		DeviceToken: n.Token,
		Topic:       n.Topic,
		PushType:    apns2.EPushType(n.PushType),
		Priority:    n.Priority,
		Expiration:  n.Expiration,
		CollapseID:  n.CollapseID,
		Payload:     n.Payload,
	}
}
