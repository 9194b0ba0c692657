package presence

// Lua scripts. Each touches the keys of one user only (KEYS share the {userId} hash tag),
// except releaseOwnerSrc, which touches the single token owner key.

// claimSrc claims one push of a message to a device. A pending key is "p:<badge>:<claimed at,
// unix ms of the Redis clock>": younger than the lease it is busy, older it is handed over
// with its badge and a fresh claim time.
// KEYS: user hash, dedupe key. ARGV: token, ignoreBadge "1"/"0", dedupe TTL ms, lease ms.
// Returns {state, badge} with the ClaimState values.
const claimSrc = `
local v = redis.call('GET', KEYS[2])
if v == 's' then return {3, -1} end
if redis.call('HEXISTS', KEYS[1], 'd:' .. ARGV[1]) == 0 then return {4, -1} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if v then
  local b, at = string.match(v, '^p:(-?%d+):?(%d*)$')
  b = tonumber(b) or -1
  at = tonumber(at) or 0
  if now - at < tonumber(ARGV[4]) then return {5, b} end
  redis.call('SET', KEYS[2], 'p:' .. b .. ':' .. now, 'KEEPTTL')
  return {2, b}
end
local b = -1
if ARGV[2] ~= '1' then b = redis.call('HINCRBY', KEYS[1], 'b:' .. ARGV[1], 1) end
redis.call('SET', KEYS[2], 'p:' .. b .. ':' .. now, 'PX', ARGV[3])
return {1, b}
`

// removeDeviceSrc removes a device with its foreground state and badge.
// KEYS: user hash. ARGV: token, before (unix ms; "" = unconditionally).
// With before set, the device stays if it was registered after before (a registration in the
// same millisecond as APNs' 410 timestamp is taken as the dead one).
// Returns 1 if removed.
const removeDeviceSrc = `
local t = ARGV[1]
local d = redis.call('HGET', KEYS[1], 'd:' .. t)
if not d then return 0 end
if ARGV[2] ~= '' then
  local upd = tonumber(string.match(d, '|(%d+)$')) or 0
  if upd > tonumber(ARGV[2]) then return 0 end
end
redis.call('HDEL', KEYS[1], 'd:' .. t, 'f:' .. t, 'b:' .. t)
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
