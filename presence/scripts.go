package presence

// Lua scripts. Each touches the keys of one user only (KEYS share the {userId} hash tag),
// except releaseOwnerSrc, which touches the single token owner key, and claimSrc and
// settleSrc, which take several users' pushes in one call where Redis allows it (not Redis
// Cluster, where each call holds one push).

// dedupeLua is the part of the dedupe scripts that finds a push's dedupe field and keeps its
// hash alive. KEYS[o+1..o+n] are the hashes the field may be in, the one a first write goes
// to first; ARGV[a+1..a+n] their bucket ends (unix ms). findIn returns the index of the hash
// that has the field (1 if none has it) and the field's value (false if none); find searches
// KEYS[o+1..] to the last. keep makes hash i outlive max(its bucket end, now) by ttl ms, the
// bucket end capped at now + cap ms (a sentAt far in the future must not keep it for years);
// it only ever extends the expiry.
const dedupeLua = `
local function findIn(o, n, f)
  for i = o + 1, o + n do
    local v = redis.call('HGET', KEYS[i], f)
    if v then return i - o, v end
  end
  return 1, false
end
local function find(o, f) return findIn(o, #KEYS - o, f) end
local function keep(o, a, i, now, ttl, cap)
  local k = KEYS[o + i]
  local at = math.min(math.max(tonumber(ARGV[a + i]), now), now + cap) + ttl
  local pt = redis.call('PTTL', k)
  if pt < 0 or now + pt < at then redis.call('PEXPIREAT', k, string.format('%.0f', at)) end
end
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function bucketSecs(k, now)
  return math.floor(now / 1000) - (tonumber(string.match(k, ':dd:(-?%d+)$')) or 0)
end
local function giveBack(u, t)
  local b = redis.call('HINCRBY', u, 'b:' .. t, -1)
  if b < 0 then redis.call('HSET', u, 'b:' .. t, 0); b = 0 end
  return b
end
`

// claimSrc claims pushes to devices, each as if alone; one call takes one push or, where
// the keys of many users may meet in one script (not Redis Cluster), many. A push's dedupe
// field is "p:<badge>:<claimed at, unix ms of the Redis clock>" while pending: younger than
// the lease it is busy, older it is handed over with its badge and a fresh claim time. Either
// write keeps the hash alive DedupeTTL past the later of now and its bucket's end. A finished
// push ("s…" sent, "r…" token removed) answers done; a dead-lettered one ("d…") is claimed as
// new, as if absent; a recalled one ("v…", "w…") answers revoked. A pending claim a recall
// asked to stop ("P…") is busy within its lease; after it (its worker died) it is never sent:
// it becomes "v" and the badge its claim took is given back.
// ARGV: dedupe TTL ms, lease ms, bucket cap ms, then per push: n, token, field, ignoreBadge
// "1"/"0", the n bucket ends. KEYS per push: the user hash, its n dedupe hashes (see
// dedupeLua). Returns {state, badge, state, badge, …} with the ClaimState values, in order.
const claimSrc = dedupeLua + `
local ttl, lease, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now = clock()
-- claim: the push whose user hash is KEYS[o], dedupe hashes KEYS[o+1..o+n], ARGV from a+1.
local function claim(o, a, n)
  local t, f = ARGV[a + 2], ARGV[a + 3]
  local i, v = findIn(o, n, f)
  local st = v and string.sub(v, 1, 1)
  if st == 's' or st == 'r' then return 3, -1 end
  if st == 'v' or st == 'w' then return 6, -1 end
  if st == 'd' then i, v = 1, false end
  if redis.call('HEXISTS', KEYS[o], 'd:' .. t) == 0 then return 4, -1 end
  local b = -1
  if v then
    local at
    b, at = string.match(v, '^[pP]:(-?%d+):?(%d*)$')
    b = tonumber(b) or -1
    at = tonumber(at) or 0
    if now - at < lease then return 5, b end
    if st == 'P' then
      -- recalled while its worker was gone: never deliver it now, give the badge back
      if b >= 0 then giveBack(KEYS[o], t) end
      redis.call('HSET', KEYS[o + i], f, 'v:-1:' .. bucketSecs(KEYS[o + i], now) .. ':0')
      return 6, -1
    end
    redis.call('HSET', KEYS[o + i], f, 'p:' .. b .. ':' .. now)
    keep(o, a + 4, i, now, ttl, cap)
    return 2, b
  end
  if ARGV[a + 4] ~= '1' then b = redis.call('HINCRBY', KEYS[o], 'b:' .. t, 1) end
  redis.call('HSET', KEYS[o + 1], f, 'p:' .. b .. ':' .. now)
  keep(o, a + 4, 1, now, ttl, cap)
  return 1, b
end
local out, k, a = {}, 0, 3
while a < #ARGV do
  local n = tonumber(ARGV[a + 1])
  local st, b = claim(k + 1, a, n)
  out[#out + 1] = st
  out[#out + 1] = b
  k, a = k + 1 + n, a + 4 + n
end
return out
`

// settleSrc records how pushes ended, each as if alone (one or many per call, as claimSrc):
// a push's dedupe field becomes "<S>:<badge>:<at>:<attempts>" with S "s" (sent), "r" (token
// removed), "d" (dead-lettered) or "v" (a recall's replacement sent), badge that of the
// pending claim (-1 when none or ignoreBadge), at the Redis clock in seconds after the start
// of the field's bucket (the number in its key), attempts the APNs requests made. It is
// written in the hash that has the field, or (expired, never claimed) in the first one, which
// is kept alive as by claimSrc. A finished record ("s…", "r…") is never downgraded to "d",
// and a recalled one ("v…", "w…") changes only to "v" (the replacement was sent).
// ARGV: dedupe TTL ms, bucket cap ms, then per push: n, field, S, attempts, the n bucket
// ends. KEYS per push: its n dedupe hashes. Returns how many records it wrote.
const settleSrc = dedupeLua + `
local ttl, cap = tonumber(ARGV[1]), tonumber(ARGV[2])
local now = clock()
-- settle: the push whose dedupe hashes are KEYS[o+1..o+n], ARGV from a+1.
local function settle(o, a, n)
  local f, S = ARGV[a + 2], ARGV[a + 3]
  local i, v = findIn(o, n, f)
  local st = v and string.sub(v, 1, 1)
  if S == 'd' and (st == 's' or st == 'r') then return 0 end
  if S ~= 'v' and (st == 'v' or st == 'w') then return 0 end
  local b = v and tonumber(string.match(v, '^[pPw]:(-?%d+)')) or -1
  redis.call('HSET', KEYS[o + i], f, S .. ':' .. b .. ':' .. bucketSecs(KEYS[o + i], now) .. ':' .. ARGV[a + 4])
  keep(o, a + 4, i, now, ttl, cap)
  return 1
end
local done, k, a = 0, 0, 2
while a < #ARGV do
  local n = tonumber(ARGV[a + 1])
  done = done + settle(k, a, n)
  k, a = k + n, a + 4 + n
end
return done
`

// removeDeviceSrc removes a device with its foreground state and badge, and remembers the
// token as "x:T" = removed-at (unix ms, "|v" appended for a VoIP token) so that Explain
// still lists pushes to it; "x:"
// fields older than the dedupe TTL are dropped on the way.
// KEYS: user hash. ARGV: token, before (unix ms; "" = unconditionally), now (unix ms), dedupe
// TTL ms.
// With before set, the device stays if it was registered after before (a registration in the
// same millisecond as APNs' 410 timestamp is taken as the dead one).
// Returns the TokenRemoval: 1 removed, 2 not registered, 3 kept (registered again after before).
const removeDeviceSrc = `
local t = ARGV[1]
local d = redis.call('HGET', KEYS[1], 'd:' .. t)
if not d then return 2 end
if ARGV[2] ~= '' then
  local upd = tonumber(string.match(d, '^[^|]*|(%d+)')) or 0
  if upd > tonumber(ARGV[2]) then return 3 end
end
redis.call('HDEL', KEYS[1], 'd:' .. t, 'f:' .. t, 'b:' .. t)
local now, ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
local h = redis.call('HGETALL', KEYS[1])
for j = 1, #h, 2 do
  if string.sub(h[j], 1, 2) == 'x:' and (tonumber(string.match(h[j + 1], '^%d+')) or 0) < now - ttl then redis.call('HDEL', KEYS[1], h[j]) end
end
local x = ARGV[3]
if string.match(d, '|v$') then x = x .. '|v' end
redis.call('HSET', KEYS[1], 'x:' .. t, x)
return 1
`

// setStateSrc moves a registered device to the foreground or the background.
// KEYS: user hash. ARGV: token, foreground-until unix ms ("" = background), badge.
// Returns 0 if the device is not registered.
const setStateSrc = `
local t = ARGV[1]
if redis.call('HEXISTS', KEYS[1], 'd:' .. t) == 0 then return 0 end
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[1], 'f:' .. t)
else
  redis.call('HSET', KEYS[1], 'f:' .. t, ARGV[2])
end
redis.call('HSET', KEYS[1], 'b:' .. t, ARGV[3])
return 1
`

// releaseOwnerSrc deletes the token owner key if it still names the user.
// KEYS: owner key. ARGV: user id.
const releaseOwnerSrc = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`

// revokeSrc recalls the push of a message to one device. KEYS: user hash, the two hashes a
// tombstone goes to (the bucket of the recall's time and the one before), then every live
// dedupe hash of the user, searched for the original's record. ARGV: token, field (of the
// original's message id and the token), lease ms, dedupe TTL ms, bucket cap ms, the bucket
// ends of KEYS[2..]. Returns {result, badge} with the RevokeResult values:
//   - never pushed (absent, dead-lettered "d…", token dead "r…"): the record becomes the
//     tombstone "v:-1:T:0" (in both tombstone hashes when there was none), so the original is
//     never pushed (its claim answers revoked): 1;
//   - sent ("s…"), or pending past the lease (its worker died mid-send: maybe sent): the
//     device's badge goes down by one if the original counted one, and the record becomes
//     "w:<new badge>:<now ms>", the replacement in flight: 2 with the badge (-1: none);
//   - pending within the lease ("p…"): it becomes "P…" (recall asked; the original's worker
//     stops before its next retry, or finishes it): 4, try again later;
//   - a replacement in flight ("w…"): within the lease 4, after it (its worker died) handed
//     over with its badge: 2;
//   - recalled already ("v…"): 3; the device is no longer registered: 5.
const revokeSrc = dedupeLua + `
local t, f = ARGV[1], ARGV[2]
local lease, ttl, cap = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local now = clock()
local i, v = find(3, f)
local st = v and string.sub(v, 1, 1)
local j = 3 + i
if st == 'v' then return {3, -1} end
if not v or st == 'd' or st == 'r' then
  local keys = {2, 3}
  if v then keys = {j} end
  for _, n in ipairs(keys) do
    redis.call('HSET', KEYS[n], f, 'v:-1:' .. bucketSecs(KEYS[n], now) .. ':0')
    keep(0, 4, n, now, ttl, cap)
  end
  return {1, -1}
end
local b, at = string.match(v, '^[pPws]:(-?%d+):?(%d*)')
b, at = tonumber(b) or -1, tonumber(at) or 0
if st == 'w' then
  if now - at < lease then return {4, b} end
  redis.call('HSET', KEYS[j], f, 'w:' .. b .. ':' .. now)
  return {2, b}
end
if (st == 'p' or st == 'P') and now - at < lease then
  redis.call('HSET', KEYS[j], f, 'P' .. string.sub(v, 2))
  return {4, -1}
end
if redis.call('HEXISTS', KEYS[1], 'd:' .. t) == 0 then
  redis.call('HSET', KEYS[j], f, 'v:-1:' .. bucketSecs(KEYS[j], now) .. ':0')
  return {5, -1}
end
local nb = -1
if b >= 0 then nb = giveBack(KEYS[1], t) end
redis.call('HSET', KEYS[j], f, 'w:' .. nb .. ':' .. now)
keep(0, 4, j, now, ttl, cap)
return {2, nb}
`

// stopIfRevokedSrc is the check a push makes before a retry: if a recall asked to stop it
// ("P…"), it is never sent; the record becomes "v:-1:T:0" and the badge its claim took is
// given back. KEYS: user hash, the push's dedupe hashes. ARGV: token, field.
// Returns 1 when the push must stop, else 0.
const stopIfRevokedSrc = dedupeLua + `
local i, v = find(1, ARGV[2])
if not v then return 0 end
local st = string.sub(v, 1, 1)
if st == 'v' or st == 'w' then return 1 end
if st ~= 'P' then return 0 end
local b = tonumber(string.match(v, '^P:(-?%d+)')) or -1
if b >= 0 then giveBack(KEYS[1], ARGV[1]) end
redis.call('HSET', KEYS[1 + i], ARGV[2], 'v:-1:' .. bucketSecs(KEYS[1 + i], clock()) .. ':0')
return 1
`
