-- Adopt what the server said remains until its reset (relative ms, so workers' clocks do not matter),
-- merged as bucket.ts capBucket merges it. KEYS[1] bucket hash. ARGV[1] requests remaining ('' = none),
-- ARGV[2] ms until that reset, ARGV[3] tokens remaining ('' = none), ARGV[4] ms until that reset,
-- ARGV[5] '1' when the request cap is a fixed window's remainder that may be spent at once.
-- Answers of one fixed window (resets less than SAME_WINDOW_MS apart) keep the latest remainder and the
-- earliest reset; an answer naming an earlier window than the one held is ignored. (The start numbers
-- bucket.ts uses to tell the fresher of two answers are per process, so across workers the latest
-- answer to arrive is taken as the fresher.)
local SAME_WINDOW_MS = 1000
local now = server_now()
local rr, rin, tr, tin, spend = num(ARGV[1]), num(ARGV[2]), num(ARGV[3]), num(ARGV[4]), ARGV[5] == '1'
local v = redis.call('HMGET', KEYS[1], 'rra', 'rs')
local held, held_spend = num(v[1]), num(v[2]) == 1
local set, del = {}, {}
local ttl = 0
if rr ~= nil and rin ~= nil and rin > 0 then
  local reset = now + rin
  local holding = spend and held_spend and held ~= nil and held > now
  if holding and math.abs(reset - held) < SAME_WINDOW_MS then
    set[#set + 1] = 'rr'; set[#set + 1] = fmt(rr)
    set[#set + 1] = 'rra'; set[#set + 1] = fmt(math.min(held, reset))
  elseif not (holding and reset < held) then
    set[#set + 1] = 'rr'; set[#set + 1] = fmt(rr)
    set[#set + 1] = 'rra'; set[#set + 1] = fmt(reset)
    if spend then set[#set + 1] = 'rs'; set[#set + 1] = '1' else del[#del + 1] = 'rs' end
  end
  ttl = math.max(ttl, rin)
end
if tr ~= nil and tin ~= nil and tin > 0 then
  set[#set + 1] = 'tr'; set[#set + 1] = fmt(tr)
  set[#set + 1] = 'tra'; set[#set + 1] = fmt(now + tin)
  ttl = math.max(ttl, tin)
end
if #del > 0 then redis.call('HDEL', KEYS[1], unpack(del)) end
if #set == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(set))
local current = redis.call('PTTL', KEYS[1])
if current >= 0 and current < ttl + 1000 then redis.call('PEXPIRE', KEYS[1], math.ceil(ttl + 1000)) end
if current == -1 then redis.call('PEXPIRE', KEYS[1], math.ceil(ttl + 1000)) end
return 1
