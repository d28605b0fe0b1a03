-- ARGV[2] JSON array of ids, ARGV[3] output offset. Marks them written and records the offset together.
for _, id in ipairs(cjson.decode(ARGV[2])) do redis.call('ZREM', R .. ':unwritten', id) end
set_meta({ outputOffset = tonumber(ARGV[3]) })
return 1
