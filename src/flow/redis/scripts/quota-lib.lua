-- Shared helpers of the quota scripts (prepended to quota-add.lua, quota-take.lua, quota-observe.lua).
-- A record is JSON { day, requests, tokens, snapshot? }. Days are 'YYYY-MM-DD' strings, so they
-- compare as text: a later day resets the counters, an earlier one (a worker whose clock is a little
-- behind, around midnight) counts against the day already begun elsewhere instead of wiping it.
local function load_record(key, day)
  local raw = redis.call('GET', key)
  local record = {}
  if raw then record = cjson.decode(raw) end
  if record.day == nil or day > record.day then
    record.day = day
    record.requests = 0
    record.tokens = 0
  end
  record.requests = tonumber(record.requests) or 0
  record.tokens = tonumber(record.tokens) or 0
  return record
end

-- Writes a record back with expiry `ttl` ms (at least 1 s).
local function save_record(key, record, ttl)
  local out = cjson.encode(record)
  redis.call('SET', key, out, 'PX', math.max(1000, math.ceil(ttl)))
  return out
end
