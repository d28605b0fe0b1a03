-- Store the latest rate-limit snapshot of one key beside its daily counters (which stay as they are).
-- KEYS[1] the quota record (JSON). ARGV[1] day, ARGV[2] snapshot JSON, ARGV[3] ms until the day's
-- rollover (the record expires then).
local record = load_record(KEYS[1], ARGV[1])
record.snapshot = cjson.decode(ARGV[2])
return save_record(KEYS[1], record, tonumber(ARGV[3]))
