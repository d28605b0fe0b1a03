-- Add to one key's daily counters. KEYS[1] the quota record (JSON). ARGV[1] day, ARGV[2] requests, ARGV[3] tokens.
-- Counters of another day are reset first. Returns the new record as JSON. The record expires after two days idle.
local raw = redis.call('GET', KEYS[1])
local record = {}
if raw then record = cjson.decode(raw) end
if record.day ~= ARGV[1] then
  record.day = ARGV[1]
  record.requests = 0
  record.tokens = 0
end
record.requests = record.requests + tonumber(ARGV[2])
record.tokens = record.tokens + tonumber(ARGV[3])
local out = cjson.encode(record)
redis.call('SET', KEYS[1], out, 'PX', 172800000)
return out
