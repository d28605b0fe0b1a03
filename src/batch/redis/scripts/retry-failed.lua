-- ARGV[2] JSON { kinds = [...] or {}, resetAttempts = bool, includeCancelled = bool }.
-- Failed (and cancelled) items of those kinds back to pending, error cleared. Returns how many.
local o = cjson.decode(ARGV[2])
local kinds = {}
local any = true
for _, k in ipairs(o.kinds or {}) do kinds[k] = true; any = false end
local n = 0
for _, id in ipairs(redis.call('ZRANGE', R .. ':final', 0, -1)) do
  local h = item_key(id)
  local state, kind = unpack(redis.call('HMGET', h, 'state', 'kind'))
  local eligible = state == 'failed' or (state == 'cancelled' and o.includeCancelled)
  if eligible and (any or kinds[kind or 'unknown']) then
    move(id, state, 'pending', kind, nil)
    redis.call('HDEL', h, 'kind', 'msg', 'status')
    if o.resetAttempts then
      redis.call('HSET', h, 'attempts', 0)
      redis.call('HDEL', h, 'ended', 'bnonce', 'bn')
    end
    n = n + 1
  end
end
return n
