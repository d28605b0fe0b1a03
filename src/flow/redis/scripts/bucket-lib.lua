-- Shared helpers of the limiter scripts: the arithmetic of src/flow/bucket.ts, line for line, so the
-- in-memory store and Redis grant exactly the same starts. Prepended to reserve.lua, settle.lua and
-- cap.lua when they are loaded. Time is the Redis server's (TIME), so workers' clocks do not matter.
local EPS = 1e-9

local function num(v)
  if v == nil or v == false or v == '' then return nil end
  return tonumber(v)
end

local function server_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end

-- The BucketSpec, from six ARGV entries starting at i: windowMs, requests, requestBurst, tokens, tokenBurst, minSpacingMs.
local function read_spec(i)
  return {
    window = tonumber(ARGV[i]),
    requests = num(ARGV[i + 1]),
    rburst = tonumber(ARGV[i + 2]),
    tokens = num(ARGV[i + 3]),
    tburst = tonumber(ARGV[i + 4]),
    spacing = num(ARGV[i + 5]),
  }
end

local function request_rate(s)
  if s.requests == nil then return math.huge end
  return math.max(s.requests - s.rburst + 1, 1e-9) / s.window
end

local function token_rate(s)
  if s.tokens == nil then return math.huge end
  return math.max(s.tokens - s.tburst, s.tokens * 0.01) / s.window
end

-- rs: the request cap is a fixed window's remainder that may be spent at once (bucket.ts requestsSpend).
local FIELDS = { 'rl', 'tl', 'up', 'ls', 'rr', 'rra', 'tr', 'tra', 'rs' }

-- Reads a bucket; a missing one is full (server caps recorded before the first reserve are kept).
local function load(key, s, now)
  local v = redis.call('HMGET', key, unpack(FIELDS))
  local st = { rl = num(v[1]), tl = num(v[2]), up = num(v[3]), ls = num(v[4]), rr = num(v[5]), rra = num(v[6]), tr = num(v[7]), tra = num(v[8]), rs = num(v[9]) }
  if st.up == nil then
    st.rl = s and s.rburst or 0
    st.tl = s and s.tburst or 0
    st.up = now
  end
  return st
end

local function fmt(x)
  return string.format('%.17g', x)
end

-- Writes a bucket back; it expires after two idle windows (by then it would be full again anyway).
local function save(key, st, ttl)
  local set = {}
  local del = {}
  for _, f in ipairs(FIELDS) do
    if st[f] ~= nil then
      set[#set + 1] = f
      set[#set + 1] = fmt(st[f])
    else
      del[#del + 1] = f
    end
  end
  if #del > 0 then redis.call('HDEL', key, unpack(del)) end
  redis.call('HSET', key, unpack(set))
  redis.call('PEXPIRE', key, math.ceil(ttl))
end

local function refill(st, s, now)
  local elapsed = now - st.up
  if elapsed > 0 then
    if s.requests ~= nil then st.rl = math.min(s.rburst, st.rl + elapsed * request_rate(s)) end
    if s.tokens ~= nil then st.tl = math.min(s.tburst, st.tl + elapsed * token_rate(s)) end
    st.up = now
  end
  if st.rl > s.rburst then st.rl = s.rburst end
  if st.tl > s.tburst then st.tl = s.tburst end
  if st.rra ~= nil and now >= st.rra then st.rr = nil; st.rra = nil; st.rs = nil end
  if st.tra ~= nil and now >= st.tra then st.tr = nil; st.tra = nil end
end

-- Whether a start may be taken from a fixed window's announced remainder now, bypassing the smooth bucket.
local function spends_cap(st, now)
  return st.rs == 1 and st.rra ~= nil and now < st.rra and (st.rr or 0) >= 1
end

local function wait_ms(st, s, tokens, now)
  refill(st, s, now)
  local wait = 0
  if s.spacing ~= nil and st.ls ~= nil then wait = math.max(wait, st.ls + s.spacing - now) end
  if s.requests ~= nil and st.rl < 1 - EPS and not spends_cap(st, now) then wait = math.max(wait, (1 - st.rl) / request_rate(s)) end
  if s.tokens ~= nil and tokens > 0 then
    local need = math.min(tokens, s.tburst)
    if st.tl < need - EPS then wait = math.max(wait, (need - st.tl) / token_rate(s)) end
  end
  if st.rr ~= nil and st.rra ~= nil and st.rr < 1 then wait = math.max(wait, st.rra - now) end
  if st.tr ~= nil and st.tra ~= nil and tokens > 0 and st.tr < math.min(tokens, s.tburst) then wait = math.max(wait, st.tra - now) end
  if wait > 0 then return math.ceil(wait - 1e-9) end
  return 0
end

local function ttl_of(s, st, now)
  local ttl = 2 * s.window
  if st.rra ~= nil then ttl = math.max(ttl, st.rra - now + 1000) end
  if st.tra ~= nil then ttl = math.max(ttl, st.tra - now + 1000) end
  return ttl
end
