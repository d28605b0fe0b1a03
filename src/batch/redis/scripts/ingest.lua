-- ARGV[2] JSON array of { id, line, priority, payload (JSON text) }; ARGV[3] JSON checkpoint.
-- Inserts new items as pending and commits the checkpoint in the same step. Returns JSON { inserted, duplicates }.
local items = cjson.decode(ARGV[2])
local cp = cjson.decode(ARGV[3])
local inserted, duplicates = 0, {}
for _, it in ipairs(items) do
  local h = item_key(it.id)
  if redis.call('EXISTS', h) == 1 then
    duplicates[#duplicates + 1] = it.id
  else
    redis.call('HSET', h, 'id', it.id, 'line', it.line, 'priority', it.priority, 'payload', it.payload, 'attempts', 0)
    if it.input ~= nil and it.input ~= '' then redis.call('HSET', h, 'input', it.input) end
    redis.call('HINCRBY', R .. ':counts', 'total', 1)
    move(it.id, nil, 'pending', nil, nil)
    inserted = inserted + 1
  end
end
set_meta({ ingestedThroughLine = cp.throughLine, rejectsOffset = cp.rejectsOffset, ingestDone = cp.done })
if #duplicates == 0 then return '{"inserted":' .. inserted .. ',"duplicates":[]}' end
return cjson.encode({ inserted = inserted, duplicates = duplicates })
