-- ARGV[2] limit. Moves up to `limit` pending items (highest priority, then line) to running; returns their ids.
local ids = redis.call('ZRANGE', R .. ':pending', 0, tonumber(ARGV[2]) - 1)
for _, id in ipairs(ids) do move(id, 'pending', 'running', nil, nil) end
return ids
