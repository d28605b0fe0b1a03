-- Every non-active key state. KEYS[1] the set of names with a state. ARGV[1] the prefix of state keys.
-- Returns a flat list: name, JSON { state, reason }, remaining ms (-1 for disabled); expired names are dropped from the set.
local out = {}
for _, name in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[1] .. name
  local value = redis.call('GET', key)
  if value then
    out[#out + 1] = name
    out[#out + 1] = value
    out[#out + 1] = redis.call('PTTL', key)
  else
    redis.call('SREM', KEYS[1], name)
  end
end
return out
