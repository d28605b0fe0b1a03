-- ARGV[2] JSON array of completions { id, state, result (JSON text)?, error? }. Returns how many applied.
local n = 0
for _, c in ipairs(cjson.decode(ARGV[2])) do n = n + complete(c) end
return n
