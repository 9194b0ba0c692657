package apnssim

import (
	"crypto/ecdsa"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"github.com/sideshow/apns2"
)

// Provider-token rules of Apple's "Establishing a token-based connection to APNs": APNs
// rejects a JWT whose iat is older than one hour. A small clock skew into the future is allowed.
const (
	providerTokenTTL  = time.Hour
	providerTokenSkew = time.Minute
	maxCachedTokens   = 4096 // distinct bearer values remembered; the cache starts over beyond
)

// authorize checks the request's credentials. It returns the topic of the client certificate
// for certificate auth, "" for token auth, or a rejection.
func (s *Server) authorize(r *http.Request) (string, rejection) {
	if auth := r.Header.Get("Authorization"); auth != "" {
		bearer, ok := cutPrefixFold(auth, "bearer ")
		if !ok {
			return "", reject(http.StatusForbidden, apns2.ReasonInvalidProviderToken)
		}
		if reason := s.tokens.check(bearer, time.Now()); reason != "" {
			return "", reject(http.StatusForbidden, reason)
		}
		return "", rejection{}
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return "", reject(http.StatusForbidden, apns2.ReasonMissingProviderToken)
	}
	topic := certTopic(r.TLS.PeerCertificates[0])
	if topic == "" {
		return "", reject(http.StatusForbidden, apns2.ReasonBadCertificate)
	}
	return topic, rejection{}
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

// tokenVerifier verifies provider JWTs (ES256, kid → public key, iss = team id). It verifies
// each distinct bearer value once and remembers the outcome: clients reuse one JWT for up to
// an hour, so the hot path is a map lookup.
type tokenVerifier struct {
	keys   map[string]*ecdsa.PublicKey
	teamID string

	mu   sync.RWMutex
	seen map[string]verified
}

// verified is what a bearer value was found to be: its iat, or why it is invalid.
type verified struct {
	issuedAt time.Time
	reason   string
}

func newTokenVerifier(keys map[string]*ecdsa.PublicKey, teamID string) *tokenVerifier {
	return &tokenVerifier{keys: keys, teamID: teamID, seen: make(map[string]verified)}
}

// check returns "" if bearer is a valid provider token at now, else the APNs reason.
func (v *tokenVerifier) check(bearer string, now time.Time) string {
	v.mu.RLock()
	e, ok := v.seen[bearer]
	v.mu.RUnlock()
	if !ok {
		e = v.verify(bearer)
		v.mu.Lock()
		if len(v.seen) >= maxCachedTokens {
			clear(v.seen)
		}
		v.seen[bearer] = e
		v.mu.Unlock()
	}
	switch {
	case e.reason != "":
		return e.reason
	case e.issuedAt.After(now.Add(providerTokenSkew)):
		return apns2.ReasonInvalidProviderToken
	case now.Sub(e.issuedAt) > providerTokenTTL:
		return apns2.ReasonExpiredProviderToken
	}
	return ""
}

var errUnknownKey = errors.New("unknown key id")

func (v *tokenVerifier) verify(bearer string) verified {
	invalid := verified{reason: apns2.ReasonInvalidProviderToken}
	claims := jwt.MapClaims{}
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"ES256"}), jwt.WithoutClaimsValidation())
	_, err := parser.ParseWithClaims(bearer, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if key := v.keys[kid]; key != nil {
			return key, nil
		}
		return nil, errUnknownKey
	})
	if err != nil {
		return invalid
	}
	if iss, _ := claims["iss"].(string); iss == "" || (v.teamID != "" && iss != v.teamID) {
		return invalid
	}
	iat, ok := claims["iat"].(float64)
	if !ok {
		return invalid
	}
	return verified{issuedAt: time.Unix(int64(iat), 0)}
}
