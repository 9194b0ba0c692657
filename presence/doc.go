// Package presence owns offpush's Redis schema: the devices, foreground state, badges, push
// settings and receive options of each user, and the pipeline's dedupe records (one per
// message and device, in one hash per user and time bucket).
// Store is the only code that reads or writes these keys.
//
// # Schema
//
// P is Options.Prefix ("op" by default), U a user id, T a device token, M a message id.
// Every key of one user carries the Redis Cluster hash tag {U}, so whatever one user operation
// touches lives in one slot (multi-key scripts are legal in a cluster). Only the token owner
// key has a slot of its own.
//
//	P:{U}:u   hash, no TTL — the whole recipient, read by one HGETALL
//	  d:T          "busiId|updatedAtUnixMs"   device registered (SetToken, or SetVoIPToken with
//	               (+ "|v": a VoIP token)     "|v" appended; removed by Logout,
//	                                          RemoveDeadToken, or SetToken of T by another user)
//	  f:T          foregroundUntilUnixMs      Foreground writes now+ForegroundTTL; Background
//	                                          deletes it. The device counts as foreground while
//	                                          the value is later than now: that comparison is
//	                                          its TTL, so a crashed app does not silence pushes
//	                                          forever. A lapsed value stays until the next
//	                                          Background or removal; readers ignore it.
//	  b:T          badge count (integer)      Background sets the unread count, Foreground sets
//	                                          0, Claim adds 1 per push. Absent = 0.
//	  c:openPush   0 | 1 | 2                  SetSettings (absent = 0, push on)
//	  c:c2cSound   sound file name            SetSettings (absent = default sound)
//	  c:groupSound sound file name            SetSettings (absent = default sound)
//	  c:preview    name | none                SetSettings (absent = full)
//	  x:T          removedAtUnixMs (+ "|v")   Logout, RemoveDeadToken or a move of T to another
//	                                          user removed T; Explain lists T's pushes. Fields
//	                                          older than DedupeTTL are dropped at the next
//	                                          removal; the pipeline ignores them.
//	  r:C          receive option             SetReceiveOpt; C is "c2c:peer", "group:id" or
//	                                          "all"; absent = "receive"
//	  q:all        "d|S|D|Z" or "o|S|D"       SetReceiveWindow: r:all holds only inside this
//	                                          window (quiet hours). d: daily from S seconds
//	                                          after midnight in IANA zone Z ("" = UTC) for D
//	                                          seconds; o: once from unix second S for D
//	                                          seconds. Absent = r:all holds always; a
//	                                          malformed value holds never.
//
//	P:tok:T   string, no TTL — the user id that owns T (SetToken; deleted by Logout and
//	          RemoveDeadToken while it still names that user). A token belongs to one user.
//
//	P:{U}:dd:S   hash, TTL below — the dedupe records of the pushes to U of the messages
//	             sent in one bucket [S, S+DedupeBucket): S is the bucket start in unix
//	             seconds, a multiple of DedupeBucket (default 24h) counted from the epoch, of
//	             the message's sentAt (Claim.SentAt; a claim without one takes the Store's
//	             clock and also searches the buckets of the last DedupeTTL, see Claim.SentAt).
//	             One field per (message, device) push:
//	  H          8 raw bytes: the first 8 of SHA-256(uvarint(len(M)) ‖ M ‖ T)
//	    "p:N:A"  claimed at A (unix ms, Redis clock), push in flight with badge N (-1:
//	             ignoreBadge). Claim writes it; within ClaimLease of A another Claim answers
//	             busy, after it the claim is handed over (resend, same badge, A = now).
//	    "s:N:T:K" sent with badge N (the claim's) at T seconds after the bucket start S
//	             (Redis clock), after K APNs requests. Done writes it, into a new hash if
//	             the push's hash expired. A Claim answers done. (A bare "s" is a record of
//	             an older offpush: sent, no details.)
//	    "r:N:T:K" as s, but APNs declared the token dead (Done with OutcomeTokenRemoved).
//	    "d:N:T:K" written to the DLQ (Release). A Claim treats it as absent, so that
//	             replaying the record pushes the device; Release never overwrites s or r.
//	    "P:N:A"  as p, and a recall (Revoke) asked it to stop: the push's worker checks
//	             before each retry (StopIfRevoked) and then never sends it; past the lease a
//	             claim of it answers revoked. Either way the record becomes v and the
//	             badge its claim took is given back.
//	    "w:B:A"  a recall's replacement in flight since A, with badge B (-1: none); the
//	             lease is as for p. RevokeDone turns it into v.
//	    "v:B:T:K" recalled: the replacement was sent with badge B after K attempts, or,
//	             with K 0, the original was never sent and never will be (a tombstone: a
//	             recall that found no record writes it into the hash of its own time and
//	             the one before, where the original's claim looks). A Claim answers
//	             revoked.
//	    (absent) never claimed, or expired.
//	             Explain reads these records for support: with T, N and K each push costs
//	             about 10 bytes more than a bare state would.
//	  TTL        every Claim and Done write makes the hash expire no sooner than DedupeTTL
//	             after the later of the bucket's end (capped at now + DedupeBucket, for a
//	             sentAt in the future) and now, by Redis' clock: PEXPIREAT when the hash has no
//	             expiry (it was just created) or an earlier one; an expiry is never shortened.
//	             So a bucket lives DedupeTTL past its end and a push is remembered at least
//	             DedupeTTL after its last claim: a redelivered event whose record expired is
//	             older than sentAt + DedupeTTL, past the pipeline's expiry (≤ DedupeTTL).
//	  Size       hashes up to hash-max-listpack-entries fields (512 by default in Redis 7)
//	             stay listpack-encoded, ~28 bytes per finished push; the hash itself costs
//	             ~140 bytes (key, object, main and expiry dict entries), shared by the pushes
//	             of its user and bucket. Larger hashes become hashtables, ~65 bytes per push.
//	             Only the Store knows where a record is: DedupeStates reads them for tests and
//	             tools.
//
// # Group membership
//
// G is a group id escaped for the hash tag ('%' → "%25", '}' → "%7D", so the tag {g:G} is
// the whole id and two ids never share a key); every key of a group carries {g:G} and lives
// in one slot. A group's member list is versioned so that a replace is atomic for readers.
//
//	P:{g:G}:g    hash, no TTL
//	  v          the current version N of the member list (absent = 0)
//	  n          the last version ReplaceMembers allocated (HINCRBY)
//	P:{g:G}:m:N  sorted set, all scores 0 — the members of version N, read in byte order by
//	             ZRANGE … BYLEX LIMIT after the last member read, which is stable under joins
//	             and leaves. JoinGroup and LeaveGroup ZADD/ZREM the current version (a script
//	             reads v). ReplaceMembers writes a new version (with a 10 min TTL while it is
//	             written), then one script makes it current and gives the previous version a
//	             10 min TTL: a fan-out keeps reading the version it started with; if that
//	             version has expired, it reads on in the current one after the same member.
//	  Size       measured (TestMembershipMemory, Redis 7.0, 10-byte ids): 100000 members cost
//	             ~112 bytes each (used_memory; MEMORY USAGE ~104), ~11 MB per 100k group,
//	             twice that for the 10 min after a replace. Sets up to 128 members
//	             (zset-max-listpack-entries) are listpack-encoded and smaller.
//
// Values are parsed leniently: a malformed number reads as 0, so one bad field cannot stall
// the pipeline (a device with busiId 0 ends in the DLQ as an unknown certificate).
//
// User ids must be non-empty and must not start with '}' (the hash tag would be empty and
// the user's keys would spread over slots in a cluster); the state API validates them.
//
// # Moving a token
//
// SetToken writes d:T for the new user, then swaps P:tok:T to it (SET … GET) and, if another
// user owned T, removes T from that user unless that user registered T again after this
// call's timestamp. The three keys are in different slots, so this is not one transaction;
// the order makes concurrent registrations of one token by two users converge on the
// last owner.
package presence
