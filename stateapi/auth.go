package stateapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
)

// authenticator checks bearer tokens. It keeps SHA-256 digests of the configured tokens and
// compares the digest of the presented one with every one of them in constant time: the
// time taken tells neither the length of a token nor which one matched.
type authenticator struct {
	digests [][sha256.Size]byte
}

func newAuthenticator(tokens []string) (*authenticator, error) {
	if len(tokens) == 0 {
		return nil, errors.New("at least one bearer token is required")
	}
	a := &authenticator{}
	for _, t := range tokens {
		if t == "" {
			return nil, errors.New("empty bearer token")
		}
		a.digests = append(a.digests, sha256.Sum256([]byte(t)))
	}
	return a, nil
}

// check reports whether r carries "Authorization: Bearer <token>" with a configured token,
// and if not, the message of the 401. The message never contains the token.
func (a *authenticator) check(r *http.Request) (msg string, ok bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "missing bearer token", false
	}
	scheme, token, _ := strings.Cut(h, " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "authorization must be a bearer token", false
	}
	got := sha256.Sum256([]byte(token))
	match := 0
	for i := range a.digests { // no early exit
		match |= subtle.ConstantTimeCompare(got[:], a.digests[i][:])
	}
	if match != 1 {
		return "invalid bearer token", false
	}
	return "", true
}
