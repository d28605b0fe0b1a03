-- Set one key's state. KEYS[1] the state string, KEYS[2] the set of names with a state.
-- ARGV[1] key name, ARGV[2] 'active' | 'cooling' | 'parked' | 'disabled', ARGV[3] ms from now until
-- it ends (cooling/parked), ARGV[4] reason.
-- A disabled key stays disabled; a shorter cooldown never overrides a longer one in force, nor one
-- that ends at the same instant (within 1 %, at most 1 s: "ms from now" was counted before the call
-- reached Redis, so two workers parking a key until the same rollover differ by their delays), whose
-- reason then stands.
-- The state expires by itself (PX), so every worker sees it end at the same instant.
-- Returns the state in force afterwards as { state, remaining ms (-1 = none) }.
local name, state, ms, reason = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
if state == 'active' then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[2], name)
  return { 'active', -1 }
end
local current = redis.call('GET', KEYS[1])
if current then
  local cur = cjson.decode(current)
  if cur.state == 'disabled' then return { 'disabled', -1 } end
  local left = redis.call('PTTL', KEYS[1])
  if state ~= 'disabled' and left >= ms - math.min(1000, ms / 100) then return { cur.state, left } end
end
local value = cjson.encode({ state = state, reason = reason })
if state == 'disabled' then
  redis.call('SET', KEYS[1], value)
else
  if ms <= 0 then return { 'active', -1 } end
  redis.call('SET', KEYS[1], value, 'PX', math.ceil(ms))
end
redis.call('SADD', KEYS[2], name)
if state == 'disabled' then return { state, -1 } end
return { state, math.ceil(ms) }
