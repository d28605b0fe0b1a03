-- One circuit breaker shared by every worker (per provider or per key). KEYS[1] its hash:
-- `until` (server ms the break ends; absent = closed), `probe` (server ms the half-open probe's lease
-- ends), `failures` (consecutive counted failures while closed), `reason`.
-- ARGV[1] op:
--   'acquire' ARGV[2] probe lease ms -> { allowed 1/0, state, ms } (open: ms until half-open;
--             half-open with the probe out: ms until its lease ends; allowed half-open: this call is the probe)
--   'success' ARGV[2] probe 1/0 -> { state, ms }
--   'failure' ARGV[2] opens at once 1/0, ARGV[3] counted 1/0, ARGV[4] failures that open,
--             ARGV[5] break ms, ARGV[6] probe 1/0, ARGV[7] reason -> { state, ms }
--   'release' ARGV[2] probe 1/0 (a call that never reached the provider) -> { state, ms }
-- Time is the Redis server's, so workers' clocks never need to agree.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local key, op = KEYS[1], ARGV[1]
local h = redis.call('HMGET', key, 'until', 'probe', 'failures')
local open_until, probe, failures = tonumber(h[1]), tonumber(h[2]), tonumber(h[3]) or 0
local KEEP = 86400000

local function state()
  if open_until == nil then return { 'closed', 0 } end
  if now < open_until then return { 'open', open_until - now } end
  return { 'half-open', 0 }
end

local function open(ms, reason)
  redis.call('HSET', key, 'until', string.format('%.0f', now + ms), 'reason', reason)
  redis.call('HDEL', key, 'probe', 'failures')
  redis.call('PEXPIRE', key, math.ceil(ms) + KEEP)
  return { 'open', math.ceil(ms) }
end

local function close()
  redis.call('DEL', key)
  return { 'closed', 0 }
end

if op == 'acquire' then
  local s = state()
  if s[1] == 'closed' then return { 1, 'closed', 0 } end
  if s[1] == 'open' then return { 0, 'open', s[2] } end
  if probe ~= nil and probe > now then return { 0, 'half-open', probe - now } end
  redis.call('HSET', key, 'probe', string.format('%.0f', now + tonumber(ARGV[2])))
  return { 1, 'half-open', 0 }
end

local s = state()
local is_probe = ARGV[2] == '1'
if op == 'release' then
  if is_probe and s[1] == 'half-open' then redis.call('HDEL', key, 'probe') end
  return s
end
if op == 'success' then
  if s[1] == 'half-open' and is_probe then return close() end
  if s[1] == 'closed' and failures > 0 then redis.call('HDEL', key, 'failures') end
  return state()
end
-- failure
local opens_now, counted = ARGV[2] == '1', ARGV[3] == '1'
local limit, break_ms, reason = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[7]
is_probe = ARGV[6] == '1'
if s[1] == 'half-open' then
  if not is_probe then return s end
  if opens_now or counted then return open(break_ms, 'probe failed: ' .. reason) end
  return close()
end
if s[1] == 'open' then return s end
if opens_now then return open(break_ms, reason .. ' opens the circuit at once') end
if not counted then
  if failures > 0 then redis.call('HDEL', key, 'failures') end
  return s
end
failures = redis.call('HINCRBY', key, 'failures', 1)
redis.call('PEXPIRE', key, KEEP)
if failures >= limit then return open(break_ms, 'consecutive failures ' .. failures .. '/' .. limit) end
return s
