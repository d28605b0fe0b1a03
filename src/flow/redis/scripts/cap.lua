-- Adopt what the server said remains until its reset (relative ms, so workers' clocks do not matter).
-- KEYS[1] bucket hash. ARGV[1] requests remaining ('' = none), ARGV[2] ms until that reset,
-- ARGV[3] tokens remaining ('' = none), ARGV[4] ms until that reset.
local now = server_now()
local rr, rin, tr, tin = num(ARGV[1]), num(ARGV[2]), num(ARGV[3]), num(ARGV[4])
local fields = {}
local ttl = 0
if rr ~= nil and rin ~= nil and rin > 0 then
  fields[#fields + 1] = 'rr'; fields[#fields + 1] = fmt(rr)
  fields[#fields + 1] = 'rra'; fields[#fields + 1] = fmt(now + rin)
  ttl = math.max(ttl, rin)
end
if tr ~= nil and tin ~= nil and tin > 0 then
  fields[#fields + 1] = 'tr'; fields[#fields + 1] = fmt(tr)
  fields[#fields + 1] = 'tra'; fields[#fields + 1] = fmt(now + tin)
  ttl = math.max(ttl, tin)
end
if #fields == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(fields))
local current = redis.call('PTTL', KEYS[1])
if current >= 0 and current < ttl + 1000 then redis.call('PEXPIRE', KEYS[1], math.ceil(ttl + 1000)) end
if current == -1 then redis.call('PEXPIRE', KEYS[1], math.ceil(ttl + 1000)) end
return 1
