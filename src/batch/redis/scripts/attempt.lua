-- ARGV[2] item id, ARGV[3] attempt number, ARGV[4] JSON outcome or '' (attempt start: only the count and key),
-- ARGV[5] key name ('' = none), ARGV[6] JSON completion or '' (applied in the same step).
local id = ARGV[2]
if redis.call('EXISTS', item_key(id)) == 0 then return 0 end
local attempt = tonumber(ARGV[3])
if ARGV[4] == '' then
  local h = item_key(id)
  local current = tonumber(redis.call('HGET', h, 'attempts') or '0')
  if attempt > current then redis.call('HSET', h, 'attempts', attempt) end
  if ARGV[5] ~= '' then redis.call('HSET', h, 'key', ARGV[5]) end
else
  attempt_end(id, attempt, cjson.decode(ARGV[4]))
end
if ARGV[6] ~= '' then return complete(cjson.decode(ARGV[6])) end
return 1
