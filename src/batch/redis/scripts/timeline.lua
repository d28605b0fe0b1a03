-- One worker's timeline drain, merged into the run's timeline (timeline.ts): one call per flush.
-- ARGV: [1] R (the run's key prefix), [2] the worker's session id, [3] its session as JSON,
-- [4] the drain as JSON { b = buckets, m = marks, t = tokens } (see timeline.ts, `encodeDrain`).
-- Keys: R:tl:sessions (hash: session id -> JSON), R:tl:starts (zset of bucket starts),
-- R:tl:b:<start> (hash per bucket, every worker's counts in it):
--   `<key>\t<counter>` summed over workers (a attempts, s succeeded, f failed, r rate limited, y retries,
--   i tokens in, o tokens out), `<key>\tl<bin>` the latency histogram, and the run row's gauges per
--   worker `\t<gauge>\t<session>` (m in flight max and c limit max: the highest; e in flight at the end: the last);
-- R:tl:marks (list of JSON marks, each with its session; the newest MAX_MARKS kept),
-- R:tl:tokens (hash `<model>\t<i|o|n>`: tokens in, out and responses counted).
local R = ARGV[1]
local sid = ARGV[2]
local MAX_MARKS = 100000
local COUNTERS = { 'a', 's', 'f', 'r', 'y', 'i', 'o' }
redis.call('HSET', R .. ':tl:sessions', sid, ARGV[3])
local d = cjson.decode(ARGV[4])
for _, b in ipairs(d.b) do
  -- b = { start (string), key, a, s, f, r, y, i, o, latency { bin = n }, gauges { m, e, c } or absent }
  local h = R .. ':tl:b:' .. b[1]
  redis.call('ZADD', R .. ':tl:starts', b[1], b[1])
  local k = b[2] .. '\t'
  for i, name in ipairs(COUNTERS) do
    local v = b[i + 2]
    if v ~= 0 then redis.call('HINCRBY', h, k .. name, v) end
  end
  for bin, n in pairs(b[10]) do redis.call('HINCRBY', h, k .. 'l' .. bin, n) end
  local g = b[11]
  if type(g) == 'table' then
    local function keep_max(field, v)
      local old = tonumber(redis.call('HGET', h, field) or '-1')
      if v > old then redis.call('HSET', h, field, v) end
    end
    keep_max(k .. 'm\t' .. sid, g[1])
    redis.call('HSET', h, k .. 'e\t' .. sid, g[2])
    keep_max(k .. 'c\t' .. sid, g[3])
  end
end
for _, m in ipairs(d.m) do redis.call('RPUSH', R .. ':tl:marks', m) end
if #d.m > 0 then redis.call('LTRIM', R .. ':tl:marks', -MAX_MARKS, -1) end
for _, t in ipairs(d.t) do
  -- t = { model, tokens in, tokens out, responses }
  redis.call('HINCRBY', R .. ':tl:tokens', t[1] .. '\ti', t[2])
  redis.call('HINCRBY', R .. ':tl:tokens', t[1] .. '\to', t[3])
  redis.call('HINCRBY', R .. ':tl:tokens', t[1] .. '\tn', t[4])
end
return 1
