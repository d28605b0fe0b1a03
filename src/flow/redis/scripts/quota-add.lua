-- Add to one key's daily counters. KEYS[1] the quota record (JSON). ARGV[1] day, ARGV[2] requests, ARGV[3] tokens.
-- Counters of an earlier day are reset first. Returns the new record as JSON. The record expires after two days idle.
local record = load_record(KEYS[1], ARGV[1])
record.requests = record.requests + tonumber(ARGV[2])
record.tokens = record.tokens + tonumber(ARGV[3])
return save_record(KEYS[1], record, 172800000)
