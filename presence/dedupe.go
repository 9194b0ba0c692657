package presence

import (
	"crypto/sha256"
	"encoding/binary"
	"strconv"
	"strings"
	"time"
)

// fieldLen is the size of a dedupe field: the first 8 bytes of SHA-256(msgID, token), raw.
// Collisions only matter within one user's bucket: with n pushes there the odds are about
// n²/2⁶⁵ (1e-16 at 128 pushes; 5e-12 a day over 10 M user-buckets of 5).
const fieldLen = 8

// dedupeField is the field of (msgID, token) in a user's dedupe hash. The message id is
// length-prefixed so that no two pairs hash the same input.
func dedupeField(msgID, token string) string {
	b := make([]byte, 0, binary.MaxVarintLen64+len(msgID)+len(token))
	b = binary.AppendUvarint(b, uint64(len(msgID)))
	b = append(b, msgID...)
	b = append(b, token...)
	sum := sha256.Sum256(b)
	return string(sum[:fieldLen])
}

// floorDiv is a/b rounded towards minus infinity (b > 0).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// bucketKey names the dedupe hash of userID for the bucket [start, start+size), start in
// unix ms: P:{U}:dd:<start in unix seconds>.
func (s *Store) bucketKey(userID string, startMs int64) string {
	return s.opts.Prefix + ":{" + userID + "}:dd:" + strconv.FormatInt(floorDiv(startMs, 1000), 10)
}

// dedupeLoc is where the dedupe field of one claim may be: keys[0] is the hash a first claim
// writes; the others are only searched. ends[i] is the end of keys[i]'s bucket (unix ms),
// which its expiry must outlast by DedupeTTL.
type dedupeLoc struct {
	field string
	keys  []string
	ends  []int64
}

// locate returns the dedupe hashes of c. A claim with SentAt has one: the bucket of SentAt.
// A zero SentAt takes the bucket of the Store's clock now, of size zeroBucket, and is also
// looked for in every such bucket that a claim within the last DedupeTTL may have written,
// one bucket of clock skew between workers allowed on either side.
func (s *Store) locate(c Claim, now time.Time) dedupeLoc {
	l := dedupeLoc{field: dedupeField(c.MsgID, c.Token)}
	if !c.SentAt.IsZero() {
		b := s.bucketMs
		start := floorDiv(c.SentAt.UnixMilli(), b) * b
		l.keys = []string{s.bucketKey(c.UserID, start)}
		l.ends = []int64{start + b}
		return l
	}
	z := s.zeroBucketMs
	nowMs := now.UnixMilli()
	cur := floorDiv(nowMs, z)
	lo, hi := floorDiv(nowMs-s.opts.DedupeTTL.Milliseconds(), z)-1, cur+1
	l.keys = make([]string, 0, hi-lo+1)
	l.ends = make([]int64, 0, hi-lo+1)
	add := func(i int64) {
		l.keys = append(l.keys, s.bucketKey(c.UserID, i*z))
		l.ends = append(l.ends, (i+1)*z)
	}
	add(cur)
	for i := hi; i >= lo; i-- {
		if i != cur {
			add(i)
		}
	}
	return l
}

// zeroBucket is the bucket size of claims without SentAt: DedupeBucket, but at least a
// quarter of DedupeTTL (whole seconds), so that they search at most 7 hashes.
func zeroBucket(o Options) time.Duration {
	q := (o.DedupeTTL/4 + time.Second - 1).Truncate(time.Second)
	return max(o.DedupeBucket, q)
}

// endArgs are the bucket ends of l's hashes, the ARGV tail of the claim and done scripts.
func (l dedupeLoc) endArgs() []any {
	out := make([]any, len(l.ends))
	for i, e := range l.ends {
		out[i] = strconv.FormatInt(e, 10)
	}
	return out
}

// DedupeStatus is what the dedupe record of one push says.
type DedupeStatus uint8

// Dedupe statuses.
const (
	DedupeAbsent  DedupeStatus = iota // never claimed, released, or expired: a claim is new
	DedupePending                     // claimed, not finished (in flight, or its worker died)
	DedupeDone                        // finished: a claim answers ClaimDone
)

var dedupeStatusNames = [...]string{"absent", "pending", "done"}

// String returns the status's lower-case name.
func (s DedupeStatus) String() string {
	if int(s) < len(dedupeStatusNames) {
		return dedupeStatusNames[s]
	}
	return "invalid"
}

// DedupeState is the dedupe record of one (message, device) push, as DedupeStates reads it.
type DedupeState struct {
	Status DedupeStatus
	// Badge and ClaimedAt are those of a pending claim: the badge it pushes (-1: ignoreBadge)
	// and when it was last claimed (Redis clock, ms). Zero otherwise.
	Badge     int64
	ClaimedAt time.Time
}

// parseDedupe reads a dedupe field value ("" = absent), leniently as the claim script does.
func parseDedupe(v string) DedupeState {
	switch {
	case v == "":
		return DedupeState{}
	case v == "s":
		return DedupeState{Status: DedupeDone}
	}
	st := DedupeState{Status: DedupePending, Badge: -1}
	b, at, _ := strings.Cut(strings.TrimPrefix(v, "p:"), ":")
	if n, err := strconv.ParseInt(b, 10, 64); err == nil {
		st.Badge = n
	}
	if ms, err := strconv.ParseInt(at, 10, 64); err == nil {
		st.ClaimedAt = time.UnixMilli(ms)
	}
	return st
}
