-- Leases of every key a worker uses, in ONE call (appended to bucket-lib.lua and to reserve.lua,
-- settle.lua and cap.lua of src/flow/redis/scripts, each wrapped as a function that reads the global
-- KEYS and ARGV, which this script sets before each call: the bucket arithmetic stays in one place and
-- a lease of n starts is exactly n reserves, so the parity with the in-process limiter holds).
-- KEYS[i] (i = 1..N): the bucket hash of key i; KEYS[N + i]: its state key (cooling/parked/disabled).
-- ARGV[1] N; then one block of 16 per key, from b = 2 + (i - 1) * 16:
--   want (starts to lease), tokensEach (tokens reserved with each), giveBack (unused leased starts),
--   giveBackTokens, settleDelta (tokens charged (> 0) or refunded (< 0) since the last call),
--   capR, capRin, capT, capTin, capSpend (a server cap, as cap.lua takes it; '' = none), then the BucketSpec (6).
-- Returns, per key: granted, waitMs (until one more start could be granted), state JSON or '', its PTTL.
local A = {}
for i = 1, #ARGV do A[i] = ARGV[i] end
local K = {}
for i = 1, #KEYS do K[i] = KEYS[i] end
local n = tonumber(A[1])
local out = {}

local function set_spec(b, at)
  for j = 0, 5 do ARGV[at + j] = A[b + 10 + j] end
end

for i = 1, n do
  local b = 2 + (i - 1) * 16
  local want, each, back, backTokens, delta = tonumber(A[b]), tonumber(A[b + 1]), tonumber(A[b + 2]), tonumber(A[b + 3]), tonumber(A[b + 4])
  KEYS[1] = K[i]
  if A[b + 5] ~= '' or A[b + 7] ~= '' then
    ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5] = A[b + 5], A[b + 6], A[b + 7], A[b + 8], A[b + 9]
    sluice_cap()
  end
  if back > 0 or backTokens > 0 then
    -- Starts leased and not used go back into the bucket (and into the server's announced remainder).
    set_spec(b, 3)
    local s = read_spec(3)
    local now = server_now()
    local st = load(K[i], s, now)
    refill(st, s, now)
    if s.requests ~= nil then st.rl = math.min(s.rburst, st.rl + back) end
    if s.tokens ~= nil then st.tl = math.min(s.tburst, st.tl + backTokens) end
    if st.rr ~= nil then st.rr = st.rr + back end
    if st.tr ~= nil then st.tr = st.tr + backTokens end
    save(K[i], st, ttl_of(s, st, now))
  end
  if delta ~= 0 then
    ARGV[1] = delta
    set_spec(b, 2)
    sluice_settle()
  end
  local state = redis.call('GET', K[n + i])
  local pttl = -2
  if state then pttl = redis.call('PTTL', K[n + i]) else state = '' end
  local granted, wait = 0, 0
  -- A key another worker cooled, parked or disabled gets no lease.
  if state == '' then
    ARGV[1], ARGV[2] = 'reserve', each
    set_spec(b, 3)
    for _ = 1, want do
      local r = sluice_reserve()
      if r[1] == 1 then granted = granted + 1 else wait = r[2]; break end
    end
    if granted == want then
      ARGV[1] = 'wait'
      wait = sluice_reserve()[2]
    end
  end
  out[#out + 1] = granted
  out[#out + 1] = wait
  out[#out + 1] = state
  out[#out + 1] = pttl
end
return out
