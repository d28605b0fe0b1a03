-- Take one request from one key's daily budget, atomically for every worker.
-- KEYS[1] the quota record (JSON). ARGV[1] day, ARGV[2] tokens (estimate), ARGV[3] the budget
-- ('' = none: only count), ARGV[4] ms until the day's rollover (the record expires then).
-- Returns { granted (1/0), record JSON }: refused, nothing is counted.
local record = load_record(KEYS[1], ARGV[1])
local budget = tonumber(ARGV[3])
if budget ~= nil and record.requests >= budget then
  return { 0, cjson.encode(record) }
end
record.requests = record.requests + 1
record.tokens = record.tokens + (tonumber(ARGV[2]) or 0)
return { 1, save_record(KEYS[1], record, tonumber(ARGV[4])) }
