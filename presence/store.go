package presence

import (
	"context"
	"errors"
	"fmt"
	"offpush/recipient"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNoDevice means the device token is not registered for the user.
var ErrNoDevice = errors.New("device not registered")

// Options configure a Store. Zero fields take the defaults.
type Options struct {
	// Prefix starts every key; default "op".
	Prefix string
	// ForegroundTTL is how long a doForeground keeps a device from being pushed unless it is
	// called again; default 10m. It lapses so that a crashed app does not silence pushes.
	ForegroundTTL time.Duration
	// DedupeTTL is how long a push is remembered (its dedupe record): at least DedupeTTL past
	// the end of its bucket (see DedupeBucket) and past its last claim or Done; default 48h.
	// It must be at least the pipeline's event expiry: a message is sent within its bucket,
	// so a redelivery that finds its record gone is older than sentAt + DedupeTTL and skipped
	// as expired.
	DedupeTTL time.Duration
	// DedupeBucket is the span of sentAt whose pushes to one user share one dedupe hash;
	// default 24h; whole seconds, at least 1s (buckets start at multiples of it counted from
	// the Unix epoch). The trade-off: a hash costs ~140 bytes besides its ~15 bytes per push,
	// shared by every push of that user in the bucket, so longer buckets cost less per push
	// for users with several pushes a bucket; but a hash lives until DedupeTTL past its
	// bucket's end (a push is kept up to DedupeBucket + DedupeTTL), and a hash over Redis'
	// hash-max-listpack-entries (512 by default) leaves the compact listpack encoding for a
	// hashtable of ~4 times the bytes per push. Changing it moves messages to other hashes:
	// a push claimed before the change and redelivered after it is pushed again.
	DedupeBucket time.Duration
	// ClaimLease is how long a pending claim belongs to the worker that made it: while it is
	// younger, another claim answers ClaimBusy (the push is in flight elsewhere, e.g. on the
	// partition's previous owner during a rebalance); once older, its maker is taken as dead
	// and the claim is handed over (ClaimResend). It must exceed the longest send, retries
	// included; default 1m.
	ClaimLease time.Duration
	// Now is the clock of foreground states and of the dedupe bucket of claims without
	// SentAt; default time.Now. Tests move it.
	Now func() time.Time
}

// Defaults of Options (and of the configuration's presence section).
const (
	DefaultPrefix        = "op"
	DefaultForegroundTTL = 10 * time.Minute
	DefaultDedupeTTL     = 48 * time.Hour
	DefaultDedupeBucket  = 24 * time.Hour
	DefaultClaimLease    = time.Minute
)

func (o Options) withDefaults() Options {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.ForegroundTTL <= 0 {
		o.ForegroundTTL = DefaultForegroundTTL
	}
	if o.DedupeTTL <= 0 {
		o.DedupeTTL = DefaultDedupeTTL
	}
	if o.DedupeBucket <= 0 {
		o.DedupeBucket = DefaultDedupeBucket
	}
	o.DedupeBucket = max(o.DedupeBucket.Truncate(time.Second), time.Second)
	if o.ClaimLease <= 0 {
		o.ClaimLease = DefaultClaimLease
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Store reads and writes the presence schema (see the package comment). It is safe for
// concurrent use.
type Store struct {
	rdb  redis.UniversalClient
	opts Options
	// Script arguments, in milliseconds: DedupeTTL, ClaimLease, and DedupeBucket (how far
	// past now a bucket end counts).
	ttlArg, leaseArg, capArg any

	bucketMs     int64 // DedupeBucket in milliseconds
	zeroBucketMs int64 // the bucket of claims without SentAt, in milliseconds
	chunk        int   // pushes per claim or settle script call: dedupeChunk on one node, else 1

	claim         *redis.Script
	settle        *redis.Script
	revoke        *redis.Script
	stopIfRevoked *redis.Script
	removeDevice  *redis.Script
	setState      *redis.Script
	releaseOwner  *redis.Script
}

// New returns a Store using rdb (a single node, Sentinel or Cluster client).
func New(rdb redis.UniversalClient, opts Options) *Store {
	opts = opts.withDefaults()
	chunk := 1 // Cluster, Ring: every user's keys may live on a node of their own
	if _, ok := rdb.(*redis.Client); ok {
		chunk = dedupeChunk // a single node, or Sentinel's master
	}
	return &Store{
		chunk:         chunk,
		rdb:           rdb,
		opts:          opts,
		ttlArg:        strconv.FormatInt(opts.DedupeTTL.Milliseconds(), 10),
		leaseArg:      strconv.FormatInt(opts.ClaimLease.Milliseconds(), 10),
		capArg:        strconv.FormatInt(opts.DedupeBucket.Milliseconds(), 10),
		bucketMs:      opts.DedupeBucket.Milliseconds(),
		zeroBucketMs:  zeroBucket(opts).Milliseconds(),
		claim:         redis.NewScript(claimSrc),
		settle:        redis.NewScript(settleSrc),
		revoke:        redis.NewScript(revokeSrc),
		stopIfRevoked: redis.NewScript(stopIfRevokedSrc),
		removeDevice:  redis.NewScript(removeDeviceSrc),
		setState:      redis.NewScript(setStateSrc),
		releaseOwner:  redis.NewScript(releaseOwnerSrc),
	}
}

func (s *Store) userKey(userID string) string {
	return s.opts.Prefix + ":{" + userID + "}:u"
}

// SlotKey is a key of userID's data. Every key of one user hashes to the same Redis Cluster
// slot, so this one tells which node serves the user (operations, fault tests); nothing else
// outside this package should read or write it.
func (s *Store) SlotKey(userID string) string { return s.userKey(userID) }

func (s *Store) ownerKey(token string) string {
	return s.opts.Prefix + ":tok:" + token
}

func unixMs(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// SetToken registers token for userID with the certificate busiID, or refreshes it (its
// updatedAt becomes now; badge and foreground state are kept). If another user owned the
// token, it is removed from that user: a phone changed hands.
func (s *Store) SetToken(ctx context.Context, userID, token string, busiID int) error {
	return s.setToken(ctx, userID, token, busiID, recipient.KindAPNs)
}

// SetVoIPToken is SetToken for a PushKit (VoIP) token (setVOIP): it receives VoIP pushes
// only, and ordinary tokens never receive them. Registering a token again with the other
// kind changes its kind.
func (s *Store) SetVoIPToken(ctx context.Context, userID, token string, busiID int) error {
	return s.setToken(ctx, userID, token, busiID, recipient.KindVoIP)
}

func (s *Store) setToken(ctx context.Context, userID, token string, busiID int, kind recipient.DeviceKind) error {
	now := s.opts.Now()
	val := strconv.Itoa(busiID) + "|" + unixMs(now)
	if kind == recipient.KindVoIP {
		val += "|v"
	}
	if err := s.rdb.HSet(ctx, s.userKey(userID), "d:"+token, val).Err(); err != nil {
		return fmt.Errorf("set token of %s: %w", userID, err)
	}
	prev, err := s.rdb.SetArgs(ctx, s.ownerKey(token), userID, redis.SetArgs{Get: true}).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("set token owner to %s: %w", userID, err)
	}
	if prev == "" || prev == userID {
		return nil
	}
	// Remove it from prev unless prev registered it again after us.
	before := strconv.FormatInt(now.UnixMilli()+1, 10)
	if err := s.removeDevice.Run(ctx, s.rdb, []string{s.userKey(prev)}, token, before, unixMs(now), s.ttlArg).Err(); err != nil {
		return fmt.Errorf("set token: remove it from previous owner %s: %w", prev, err)
	}
	return nil
}

// Logout forgets the device: its registration, badge and foreground state, and its owner key
// if that still names userID. Logging out an unknown device is not an error.
func (s *Store) Logout(ctx context.Context, userID, token string) error {
	err := s.removeDevice.Run(ctx, s.rdb, []string{s.userKey(userID)}, token, "", unixMs(s.opts.Now()), s.ttlArg).Err()
	if err != nil {
		return fmt.Errorf("logout %s: %w", userID, err)
	}
	return s.release(ctx, userID, token)
}

// release deletes the token owner key if it still names userID.
func (s *Store) release(ctx context.Context, userID, token string) error {
	if err := s.releaseOwner.Run(ctx, s.rdb, []string{s.ownerKey(token)}, userID).Err(); err != nil {
		return fmt.Errorf("release token owner %s: %w", userID, err)
	}
	return nil
}

// Background marks the device offline-pushable (doBackground): its foreground state is
// cleared and its badge base becomes unread. ErrNoDevice if the token is not registered.
func (s *Store) Background(ctx context.Context, userID, token string, unread int64) error {
	if err := s.state(ctx, userID, token, "", unread); err != nil {
		return fmt.Errorf("background %s: %w", userID, err)
	}
	return nil
}

// Foreground marks the device as in the foreground (doForeground) until now+ForegroundTTL
// and resets its badge to 0. ErrNoDevice if the token is not registered.
func (s *Store) Foreground(ctx context.Context, userID, token string) error {
	until := unixMs(s.opts.Now().Add(s.opts.ForegroundTTL))
	if err := s.state(ctx, userID, token, until, 0); err != nil {
		return fmt.Errorf("foreground %s: %w", userID, err)
	}
	return nil
}

func (s *Store) state(ctx context.Context, userID, token, fgUntil string, badge int64) error {
	ok, err := s.setState.Run(ctx, s.rdb, []string{s.userKey(userID)}, token, fgUntil, badge).Int64()
	if err != nil {
		return err
	}
	if ok == 0 {
		return ErrNoDevice
	}
	return nil
}

// SetSettings stores the user's TIMAPNSConfig: OpenPush, C2CSound, GroupSound and Preview (an
// empty sound removes it; an empty Preview is full). ReceiveOpts and AllWindow are ignored:
// SetReceiveOpt and SetReceiveWindow write those.
func (s *Store) SetSettings(ctx context.Context, userID string, st recipient.Settings) error {
	if !st.Preview.Valid() {
		return fmt.Errorf("set settings of %s: invalid preview %q", userID, st.Preview)
	}
	preview := st.Preview
	if preview == recipient.PreviewFull {
		preview = ""
	}
	key := s.userKey(userID)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, "c:openPush", st.OpenPush)
		setOrDel(ctx, p, key, "c:c2cSound", st.C2CSound)
		setOrDel(ctx, p, key, "c:groupSound", st.GroupSound)
		setOrDel(ctx, p, key, "c:preview", string(preview))
		return nil
	})
	if err != nil {
		return fmt.Errorf("set settings of %s: %w", userID, err)
	}
	return nil
}

func setOrDel(ctx context.Context, p redis.Pipeliner, key, field, val string) {
	if val == "" {
		p.HDel(ctx, key, field)
	} else {
		p.HSet(ctx, key, field, val)
	}
}

// SetReceiveOpt sets the user's receive option for a conversation ("c2c:peer", "group:id" or
// "all") permanently. Receive, the default, deletes the stored option. For "all" it also
// removes a window SetReceiveWindow set.
func (s *Store) SetReceiveOpt(ctx context.Context, userID, convID string, opt recipient.ReceiveOpt) error {
	if !opt.Valid() {
		return fmt.Errorf("set receive opt of %s: invalid option %q", userID, opt)
	}
	key := s.userKey(userID)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		if opt == recipient.Receive {
			p.HDel(ctx, key, "r:"+convID)
		} else {
			p.HSet(ctx, key, "r:"+convID, string(opt))
		}
		if convID == recipient.AllConversations {
			p.HDel(ctx, key, "q:"+recipient.AllConversations)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("set receive opt of %s: %w", userID, err)
	}
	return nil
}

// SetReceiveWindow sets the user's "all" receive option to opt inside window w only (quiet
// hours); outside it the user receives. opt Receive removes the option and the window.
func (s *Store) SetReceiveWindow(ctx context.Context, userID string, opt recipient.ReceiveOpt, w recipient.Window) error {
	if opt == recipient.Receive {
		return s.SetReceiveOpt(ctx, userID, recipient.AllConversations, opt)
	}
	if !opt.Valid() {
		return fmt.Errorf("set receive window of %s: invalid option %q", userID, opt)
	}
	key := s.userKey(userID)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, "r:"+recipient.AllConversations, string(opt), "q:"+recipient.AllConversations, w.Encode())
		return nil
	})
	if err != nil {
		return fmt.Errorf("set receive window of %s: %w", userID, err)
	}
	return nil
}

// GetSettings reads the user's settings, receive options included, from Redis (no cache).
func (s *Store) GetSettings(ctx context.Context, userID string) (recipient.Settings, error) {
	r, err := s.get(ctx, userID)
	if err != nil {
		return recipient.Settings{}, fmt.Errorf("get settings of %s: %w", userID, err)
	}
	return r.Settings, nil
}

// Devices lists the user's devices sorted by token, with their state now.
func (s *Store) Devices(ctx context.Context, userID string) ([]recipient.Device, error) {
	r, err := s.get(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("devices of %s: %w", userID, err)
	}
	return r.Devices, nil
}

func (s *Store) get(ctx context.Context, userID string) (Recipient, error) {
	h, err := s.rdb.HGetAll(ctx, s.userKey(userID)).Result()
	if err != nil {
		return Recipient{}, err
	}
	var p parser
	return p.recipient(userID, h, s.opts.Now().UnixMilli()), nil
}

// TokenRemoval is what RemoveDeadToken did.
type TokenRemoval uint8

// Outcomes of RemoveDeadToken.
const (
	_            TokenRemoval = iota
	TokenRemoved              // the device was removed
	TokenGone                 // it was not registered (removed already, e.g. by an earlier 410)
	TokenKept                 // it was registered again after APNs' 410 timestamp: kept
)

var tokenRemovalNames = [...]string{"invalid", "removed", "gone", "kept"}

// String returns the outcome's lower-case name.
func (r TokenRemoval) String() string {
	if int(r) < len(tokenRemovalNames) {
		return tokenRemovalNames[r]
	}
	return tokenRemovalNames[0]
}

// RemoveDeadToken removes a token APNs reported dead, unless it was registered again after
// unregisteredAt (APNs' 410 timestamp); a zero unregisteredAt removes it anyway. The
// owner key goes with it.
func (s *Store) RemoveDeadToken(ctx context.Context, userID, token string, unregisteredAt time.Time) (TokenRemoval, error) {
	before := ""
	if !unregisteredAt.IsZero() {
		before = unixMs(unregisteredAt)
	}
	n, err := s.removeDevice.Run(ctx, s.rdb, []string{s.userKey(userID)}, token, before, unixMs(s.opts.Now()), s.ttlArg).Int64()
	if err != nil {
		return 0, fmt.Errorf("remove dead token of %s: %w", userID, err)
	}
	r := TokenRemoval(n)
	if r != TokenRemoved {
		return r, nil
	}
	return r, s.release(ctx, userID, token)
}
