-- Every running item back to pending (resume of a single-process run). Returns how many.
local ids = redis.call('SMEMBERS', R .. ':running')
for _, id in ipairs(ids) do
  local kind = redis.call('HGET', item_key(id), 'kind')
  move(id, 'running', 'pending', kind, kind)
end
return #ids
