-- ARGV[2] item id, ARGV[3] key name ('' = none). A worker is about to send attempt n+1 of the item:
-- the count is persisted first, once, whichever worker makes it. Returns the new attempt number,
-- or 0 when the item is already final (its result is recorded; nothing more must be sent) or unknown.
local id = ARGV[2]
local h = item_key(id)
local state, kind = unpack(redis.call('HMGET', h, 'state', 'kind'))
if not state or FINAL[state] then return 0 end
local n = redis.call('HINCRBY', h, 'attempts', 1)
if ARGV[3] ~= '' then redis.call('HSET', h, 'key', ARGV[3]) end
if state ~= 'running' then move(id, state, 'running', kind, kind) end
return n
