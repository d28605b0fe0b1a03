-- Charge (delta > 0) or refund (delta < 0) tokens once a response reported its real usage.
-- KEYS[1] bucket hash. ARGV[1] delta; ARGV[2..7] the BucketSpec.
local delta = tonumber(ARGV[1])
local s = read_spec(2)
local now = server_now()
local st = load(KEYS[1], s, now)
refill(st, s, now)
if s.tokens ~= nil then st.tl = math.min(s.tburst, st.tl - delta) end
if st.tr ~= nil then st.tr = st.tr - delta end
save(KEYS[1], st, ttl_of(s, st, now))
return 1
