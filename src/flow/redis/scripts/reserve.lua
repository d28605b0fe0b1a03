-- Reserve (or only measure the wait for) one start and ARGV[2] tokens on one key's buckets.
-- KEYS[1] bucket hash. ARGV[1] 'reserve' | 'wait'; ARGV[2] tokens; ARGV[3..8] the BucketSpec.
-- Returns { granted (1/0), waitMs (integer ms) }.
local mode = ARGV[1]
local tokens = tonumber(ARGV[2])
local s = read_spec(3)
local now = server_now()
local st = load(KEYS[1], s, now)
local wait = wait_ms(st, s, tokens, now)
if mode ~= 'reserve' then return { 0, wait } end
if wait > 0 then
  save(KEYS[1], st, ttl_of(s, st, now))
  return { 0, wait }
end
-- A start spent from a window's announced remainder does not draw on the smooth bucket (bucket.ts reserveBucket).
if s.requests ~= nil and not spends_cap(st, now) then st.rl = st.rl - 1 end
if s.tokens ~= nil then st.tl = st.tl - tokens end
if st.rr ~= nil then st.rr = st.rr - 1 end
if st.tr ~= nil then st.tr = st.tr - tokens end
st.ls = now
save(KEYS[1], st, ttl_of(s, st, now))
return { 1, 0 }
