-- Leases of every key a worker uses, in ONE call (appended to bucket-lib.lua and to reserve.lua,
-- settle.lua, cap.lua and key-set.lua of src/flow/redis/scripts, each wrapped as a function that reads
-- the global KEYS and ARGV, which this script sets before each call: the bucket arithmetic stays in one place and
-- a lease of n starts is exactly n reserves, so the parity with the in-process limiter holds).
-- KEYS[i] (i = 1..N): the bucket hash of key i; KEYS[N + i]: its state key (cooling/parked/disabled);
-- KEYS[2N + i]: what the fleet learned of it (hash: the last congestion event of the learned rate
-- `seq`, `at` (server ms), `mx`, `bs`, `g`; bare-429 strikes `sk` and the last one's time `sat`;
-- the fleet's successes `ok` and starts `st` so far; while nothing limits it, the fleet's start cap
-- `fc`, when it last stepped `fat` and the peak of calls in flight since `fp`); KEYS[3N + i]: the
-- fleet's reservations of that cap (hash: worker id -> 'reserved:held:in flight:asking (1/0):server
-- ms' of its last report);
-- KEYS[4N + i]: the fleet's concurrency cap learned from bare 429s and its evidence (fleet-cap.lua);
-- KEYS[5N + 1]: the set of key names with a state (key-set.lua's); with the fleet's concurrency
-- limit, KEYS[5N + 2] its hash and KEYS[5N + 3] the workers' reports (fleet-concurrency.lua).
-- ARGV[1] N; ARGV[2] the channel a new congestion event or strike is published on (the key's name,
-- so that every worker asks for it at once, not with its next lease); ARGV[3] this worker's id; then
-- one block of 40 per key, from b = 4 + (i - 1) * 40:
--   want (starts to lease), tokensEach (tokens reserved with each), giveBack (unused leased starts),
--   giveBackTokens, settleDelta (tokens charged (> 0) or refunded (< 0) since the last call),
--   capR, capRin, capT, capTin, capSpend (a server cap, as cap.lua takes it; '' = none), then the BucketSpec (6);
--   then what the worker learnt: ok, st (its successes and starts since its last call), okAgo (ms since
--   the start of its latest success, '' = none), a decrease of the learned rate: dAgo (ms since the
--   refused call started, -1 = unknown), dMax, dBase, dGuessed ('' = none), sAgo (a bare 429 that
--   struck: ms since its call started, -1 = unknown; '' = none), aheadMs (how far ahead a start may be
--   granted, 0 = not at all), the key's name (for the channel), then the fleet's start: seen (the
--   fleet's cap on calls in flight on the key as this worker last saw it, or its initial: '' = no cap),
--   held (this worker's calls in flight on the key and starts it holds, before this grant; -1: it stops,
--   its reservation goes), next (the
--   cap's next slow-start step from `seen`) and stepMs (how long a step lasts at least); then a state
--   this worker set on the key, as key-set.lua takes it: state ('' = none), ms until it ends, reason;
--   then the fleet's learned cap (fleet-cap.lua): the version seen ('' = this worker does not share
--   it: the rest is ignored), the outcomes since the last call, a proposed state, `halve`, and this
--   worker's calls in flight on the key (of `held`, without the starts it holds), whether it asks
--   for a start it wants now ('1'; '0': at most a top-up ahead of need), and its calls of the last
--   second, the learned cap's evidence (call_logs below: 'start,end;...' as ms ago, end '' while in
--   flight).
-- After the keys' blocks, when this worker's concurrency is adaptive (else absent): seen (the fleet's
-- step its limit is at), from, to (its own step of its share, '' = none), min, max, initial (its
-- bounds), gone ('1': it stops).
-- Returns, per key (28): granted, waitMs (until one more start could be granted), state JSON or '', its
-- PTTL, aheadMs (ms until the granted starts may be used, 0 = now) and stepMs (between them when ahead),
-- seq, ms since the event, mx, bs, g, ok, st, strikes, ms since the last strike, then the fleet's calls
-- in flight on the key after this grant (as reported), how many this worker may hold (its share, less
-- what the others reserve) and the cap ('' where not capped), then the learned cap's 8 entries
-- (fleet-cap.lua; '' each where not shared), the other workers' calls in flight on the key, without
-- the starts they hold ('' where neither capped nor learning), and their call logs (call_logs: '' where
-- not shared); then, with the concurrency block, the
-- fleet's limit, its step, slow start (1/0), live workers and this worker's share.
local A = {}
for i = 1, #ARGV do A[i] = ARGV[i] end
local K = {}
for i = 1, #KEYS do K[i] = KEYS[i] end
local n = tonumber(A[1])
local channel = A[2]
local me = A[3]
local out = {}
-- What the fleet learnt of a key is forgotten after this long without news (ms).
local LEARN_TTL_MS = 600000
-- The message that part of a key's learned cap was freed: this, then the key's name (leases.ts CAP_FREED).
local CAP_FREED = '\ncap\n'

local function set_spec(b, at)
  for j = 0, 5 do ARGV[at + j] = A[b + 10 + j] end
end

-- The fleet's start on a key nothing limits yet (no rate configured, announced or learned; leases.ts
-- asks for it only then): at most the fleet's cap `fc` of calls in flight, so that N workers probe the
-- server together as one does until the first 429 teaches the fleet a rate (its event, `seq`, lifts
-- the cap here at once). Each worker that reported within FLEET_FRESH_MS (hash F: worker id ->
-- 'reserved:held:server ms') reserves an equal share of the cap, less what the others reserve: it
-- starts calls within it without asking (its own calls ending free it) until its next call, so the
-- reservations, not the calls, are what add up to at most the cap. With more workers than the cap,
-- each may reserve one. Every `step_ms` the cap takes a slow-start step (to `nextc`, which the worker
-- computed from the cap it saw, `seen`: the step is taken once) if the fleet had as many calls in
-- flight as the shares allow during it (`fp`, the step's peak): a cap the fleet does not fill proves
-- nothing about the server. A cap the fleet learned from bare 429s (`learned`, fleet-cap.lua) is
-- shared the same way, from the first 429 on, but binds exactly and only among the workers that use
-- it: a worker that asks while the others' reservations fill the cap gets none until one of them frees
-- part of its own (it is told: leases.ts CAP_FREED). Returns what this worker may
-- reserve (nil: no cap), the calls the others hold (in flight and the starts they hold), the cap, and
-- the others' calls in flight (also without a cap when `reports`: the learned cap's evidence).
local function fleet_share(L, fleet, seen, nextc, step_ms, learned, reports)
  if seen == '' and learned == nil and not reports then return nil, 0, '', 0 end
  local fresh, now = fleet()
  local reserved, holding, calls, workers, active, waiting = 0, 0, 0, 1, 1, 0
  for _, v in pairs(fresh) do
    local r, h, c, a = string.match(v, '^([^:]*):([^:]*):?([^:]*):?([^:]*)$')
    reserved = reserved + tonumber(r)
    holding = holding + tonumber(h)
    calls = calls + (tonumber(c) or tonumber(h))
    workers = workers + 1
    if tonumber(r) > 0 then active = active + 1 elseif a == '1' then waiting = waiting + 1 end
  end
  if learned ~= nil then
    -- Split over the workers that use it (that reserve some), not over every live one: a worker with
    -- nothing to do leaves its part to the others, and one that waits with none takes nothing from
    -- them (a worker's share of a small cap stays large: its lease calls grant several starts each).
    -- Rounded up, within what the others reserve: the whole cap is used.
    return math.max(0, math.min(math.ceil(learned / active), learned - reserved)), holding, learned, calls, waiting
  end
  if seen == '' then return nil, holding, '', calls end
  local f = redis.call('HMGET', L, 'seq', 'fc', 'fat', 'fp')
  if (num(f[1]) or 0) > 0 then return nil, holding, '', calls end
  local cap, at, peak = num(f[2]), num(f[3]), num(f[4]) or 0
  if cap == nil then
    cap, at, peak = tonumber(seen), now, 0
    redis.call('HSET', L, 'fc', cap, 'fat', fmt(now), 'fp', 0)
    redis.call('PEXPIRE', L, LEARN_TTL_MS)
  end
  local function share_of(c) return math.floor(math.max(c, workers) / workers) end
  if now - at >= tonumber(step_ms) then
    -- A step ends: the cap steps up if the fleet filled its shares; either way the next step starts now.
    if cap == tonumber(seen) and peak >= workers * share_of(cap) then cap = tonumber(nextc) end
    redis.call('HSET', L, 'fc', cap, 'fat', fmt(now), 'fp', 0)
  end
  return math.max(0, math.min(share_of(cap), math.max(cap, workers) - reserved)), holding, cap, calls
end

-- The fleet's calls on a key, the evidence of its learned cap: a call's level is the fleet's calls in
-- flight when it started, which no worker knows at the time (the others' reports are as of their
-- last lease call, often after their calls ended or before their next began: levels read so separated
-- nothing at a cap of 2 over 4 workers). So each worker sends its calls of the last second with every
-- lease call (`log`: 'start,end;...' as ms before the call, end '' while in flight), kept in F's field
-- '<id>/log' on the server's clock ('<server ms>|<start>,<end>;...', whole ms); the answer brings the
-- others' logs back as ms ago ('<ms since the log was sent>|<start>,<end>;...', one per worker,
-- joined by ' '), from which a worker counts the level of each of its own calls once every other
-- worker has sent its log after that call's start (fleet-in-flight-cap.ts). A log older than
-- FLEET_FRESH_MS is dropped, as a report is (fresh_fields: `logs`, this worker's own left out).
local function whole(x) return string.format('%d', math.floor(x + 0.5)) end
-- A list 'start,end;...' with each time t turned into now - t, whole ms (end '' stays ''): ms ago into
-- server ms as the log is kept, and back into ms ago for the answer.
local function rebase(list, now)
  local out = {}
  for s, e in string.gmatch(list, '([%d.]+),([%d.]*)') do
    out[#out + 1] = whole(now - tonumber(s)) .. ',' .. (e ~= '' and whole(now - tonumber(e)) or '')
  end
  return table.concat(out, ';')
end
local function call_logs(F, log, others, now)
  if log ~= nil then redis.call('HSET', F, me .. LOG, whole(now) .. '|' .. rebase(log, now)) end
  local out = {}
  for _, l in ipairs(others) do out[#out + 1] = whole(now - l[1]) .. '|' .. rebase(l[2], now) end
  return table.concat(out, ' ')
end

-- Starts granted ahead: the bucket goes into debt by them, so that they come in the order they were
-- asked for and no call is spent on a refill another worker takes first. The first may be up to
-- AHEAD_FAR times `max_ms` out (other workers hold the slots before it), the others within `max_ms`
-- of it. Only where the smooth request bucket alone makes the wait (no spacing, no server cap, no
-- token budget, no fixed window's spend).
local AHEAD_FAR = 10
local function ahead(key, b, each, want, max_ms)
  set_spec(b, 3)
  local s = read_spec(3)
  if s.spacing ~= nil or s.requests == nil or (s.tokens ~= nil and each > 0) then return 0, 0, 0 end
  local now = server_now()
  local st = load(key, s, now)
  refill(st, s, now)
  if st.rs ~= nil or (st.rr ~= nil and st.rra ~= nil and st.rr < 1) then return 0, 0, 0 end
  local step = 1 / request_rate(s)
  local first = math.max(0, (1 - st.rl) * step)
  if first > AHEAD_FAR * max_ms then return 0, 0, 0 end
  local k = 0
  while k < want and k * step <= max_ms do k = k + 1 end
  if st.rr ~= nil then k = math.min(k, math.floor(st.rr)) end
  if k <= 0 then return 0, 0, 0 end
  st.rl = st.rl - k
  if st.rr ~= nil then st.rr = st.rr - k end
  save(key, st, ttl_of(s, st, now))
  return k, math.ceil(first), step
end

for i = 1, n do
  local b = 4 + (i - 1) * 40
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
  if A[b + 30] ~= '' then
    -- A state this worker set (a cooldown, park, disable or its end): key-set.lua, in this call.
    KEYS[1], KEYS[2] = K[n + i], K[5 * n + 1]
    ARGV[1], ARGV[2], ARGV[3], ARGV[4] = A[b + 25], A[b + 30], A[b + 31], A[b + 32]
    sluice_key_set()
    KEYS[1] = K[i]
  end
  local state = redis.call('GET', K[n + i])
  local pttl = -2
  if state then pttl = redis.call('PTTL', K[n + i]) else state = '' end
  local granted, wait, ahead_ms, step_ms = 0, 0, 0, 0
  local F, held = K[3 * n + i], tonumber(A[b + 27])
  -- A worker that stops (held < 0) gives its reservation back at once, and its call log.
  if held < 0 then redis.call('HDEL', F, me, me .. LOG) end
  -- The fleet's learned cap first: a cap this call's outcomes or proposal set binds its grant.
  -- Its evidence (the workers' calls in flight, reported as for the start cap) is gathered from the
  -- fleet's first refusal on (a key never refused has no cap to learn).
  local capped, learning = nil, false
  if A[b + 33] ~= '' then
    capped = fleet_cap(K[4 * n + i], A[b + 33], A[b + 34], A[b + 35], tonumber(A[b + 36]), LEARN_TTL_MS)
    if held < 0 then capped[3] = '' end
    learning = capped[7] ~= ''
  end
  -- F's fresh reports and logs, read at most once per key (fresh_fields), by the first of the logs and
  -- the reports to need them.
  local fresh, fresh_logs, fresh_now
  local function fleet()
    if fresh == nil then
      fresh_now = server_now()
      fresh, fresh_logs = fresh_fields(F, me, fresh_now)
    end
    return fresh, fresh_now, fresh_logs
  end
  -- The call logs, as the reports, from the fleet's first refusal on (a log holds the last second: the
  -- calls before it are counted too).
  local logs = ''
  if learning and held >= 0 then
    local _, at, others_logs = fleet()
    logs = call_logs(F, A[b + 39], others_logs, at)
    redis.call('PEXPIRE', F, FLEET_FRESH_MS * 2)
  end
  local share, others, fleet_cap_in, others_calls, waiting = nil, 0, '', 0, 0
  if held >= 0 then share, others, fleet_cap_in, others_calls, waiting = fleet_share(K[2 * n + i], fleet, A[b + 26], A[b + 28], A[b + 29], capped and num(capped[3]), learning) end
  -- A learned cap's share binds the worker's calls in flight (it starts none beyond, leases.ts), so it
  -- may hold its share's starts while they are in flight: the next starts as one ends, without a call.
  local by_calls = capped ~= nil and capped[3] ~= ''
  local asking = A[b + 38] == '1' and want > 0
  -- Of a learned cap, a top-up ahead of need goes only to a worker with calls in flight (its next start
  -- as one ends): an idle worker's would hold part of the cap from the others.
  if by_calls and not asking and tonumber(A[b + 37]) == 0 then want = 0 end
  if share ~= nil and by_calls then want = math.min(want, share)
  elseif share ~= nil then want = math.min(want, math.max(0, share - held)) end
  -- A key another worker cooled, parked or disabled gets no lease.
  if state == '' then
    ARGV[1], ARGV[2] = 'reserve', each
    set_spec(b, 3)
    for _ = 1, want do
      local r = sluice_reserve()
      if r[1] == 1 then granted = granted + 1 else wait = r[2]; break end
    end
    local max_ahead = tonumber(A[b + 24])
    if granted == 0 and want > 0 and max_ahead > 0 and wait <= AHEAD_FAR * max_ahead then
      granted, ahead_ms, step_ms = ahead(K[i], b, each, want, max_ahead)
      ARGV[1], ARGV[2] = 'reserve', each
      set_spec(b, 3)
    end
    if granted == want or ahead_ms > 0 then
      ARGV[1] = 'wait'
      wait = sluice_reserve()[2]
    end
  end

  local fleet_in, others_in = '', ''
  if share ~= nil or (learning and held >= 0) then
    -- This worker's reservation is at least what it holds (a share that shrank is given back as its
    -- calls end: it starts no more than the share, which the answer says).
    if share ~= nil then fleet_in = others + held + granted end
    others_in = others_calls
    if share ~= nil and (capped == nil or capped[3] == '') then
      local peak = num(redis.call('HGET', K[2 * n + i], 'fp')) or 0
      if others + held + granted > peak then redis.call('HSET', K[2 * n + i], 'fp', fleet_in) end
    end
    local calls = A[b + 37] ~= '' and A[b + 37] or fmt(held + granted)
    -- Of a learned cap, the share is reserved only while the worker asks for a start it wants now (not a
    -- top-up ahead of need); otherwise what it may start without asking (its calls in flight, and the
    -- starts it holds within its share): a worker that has nothing to do frees its part at once, not
    -- when its report grows old.
    local reserve
    if by_calls and asking then reserve = math.max(share, tonumber(calls))
    elseif by_calls then reserve = math.max(tonumber(calls), math.min(share, held + granted))
    else reserve = math.max(share or 0, held + granted) end
    -- Part of a learned cap freed while another worker waits with none: it asks now (leases.ts), not
    -- when its wait ends.
    if by_calls and (waiting or 0) > 0 and channel ~= '' then
      local before = tonumber(string.match(redis.call('HGET', F, me) or '', '^([^:]*):') or '')
      if before ~= nil and before > reserve then redis.call('PUBLISH', channel, CAP_FREED .. A[b + 25]) end
    end
    redis.call('HSET', F, me, fmt(reserve) .. ':' .. fmt(held + granted) .. ':' .. calls .. ':' .. (asking and '1' or '0') .. ':' .. fmt(server_now()))
    redis.call('PEXPIRE', F, FLEET_FRESH_MS * 2)
  end
  if share == nil then share = '' end

  -- What the fleet learnt of the key.
  local L = K[2 * n + i]
  local now = server_now()
  local ok, st = tonumber(A[b + 16]), tonumber(A[b + 17])
  local ok_ago, d_ago, d_max, s_ago = A[b + 18], tonumber(A[b + 19]), A[b + 20], A[b + 23]
  local changed = false
  local news = false
  if ok > 0 then redis.call('HINCRBY', L, 'ok', ok); changed = true end
  if st > 0 then redis.call('HINCRBY', L, 'st', st); changed = true end
  local f = redis.call('HMGET', L, 'seq', 'at', 'mx', 'bs', 'g', 'sk', 'sat', 'ok', 'st')
  local seq, at, sk, sat = num(f[1]) or 0, num(f[2]), num(f[6]) or 0, num(f[7])
  -- A success of a call started after the fleet's last bare 429 ends its strikes.
  if ok_ago ~= '' and sk > 0 and sat ~= nil and now - tonumber(ok_ago) >= sat then
    sk = 0
    redis.call('HSET', L, 'sk', 0)
    changed = true
  end
  if s_ago ~= '' then
    local ago = tonumber(s_ago)
    -- A 429 of a call started before the fleet's last strike is that strike's congestion: no new step.
    if not (sk > 0 and sat ~= nil and ago >= 0 and now - ago <= sat) then
      sk = sk + 1
      sat = now
      redis.call('HSET', L, 'sk', sk, 'sat', fmt(now))
      changed = true
      news = true
    end
  end
  if d_max ~= '' then
    -- One decrease per congestion event for the fleet: a 429 of a call started before the last
    -- decrease (start unknown: within a second of it) is that event's, whichever worker got it.
    local same = at ~= nil and ((d_ago >= 0 and now - d_ago <= at) or (d_ago < 0 and now - at < 1000))
    if not same then
      seq = seq + 1
      at = now
      f[3], f[4], f[5] = d_max, A[b + 21], A[b + 22]
      redis.call('HSET', L, 'seq', seq, 'at', fmt(now), 'mx', f[3], 'bs', f[4], 'g', f[5])
      changed = true
      news = true
    end
  end
  if news and channel ~= '' then redis.call('PUBLISH', channel, A[b + 25]) end
  if changed then
    redis.call('PEXPIRE', L, LEARN_TTL_MS)
    local t = redis.call('HMGET', L, 'ok', 'st')
    f[8], f[9] = t[1], t[2]
  end
  out[#out + 1] = granted
  out[#out + 1] = wait
  out[#out + 1] = state
  out[#out + 1] = pttl
  out[#out + 1] = ahead_ms
  out[#out + 1] = fmt(step_ms)
  out[#out + 1] = seq
  out[#out + 1] = at and fmt(now - at) or ''
  out[#out + 1] = f[3] or ''
  out[#out + 1] = f[4] or ''
  out[#out + 1] = f[5] or ''
  out[#out + 1] = f[8] or '0'
  out[#out + 1] = f[9] or '0'
  out[#out + 1] = sk
  out[#out + 1] = sat and fmt(now - sat) or ''
  out[#out + 1] = fleet_in
  out[#out + 1] = share
  out[#out + 1] = fleet_cap_in
  for j = 1, 8 do out[#out + 1] = capped and capped[j] or '' end
  out[#out + 1] = others_in
  out[#out + 1] = logs
end
-- The fleet's concurrency limit (fleet-concurrency.lua), when this worker's is adaptive: its report,
-- its proposed step, and its share in the answer's last 5 entries.
local cb = 4 + n * 40
if A[cb] ~= nil and A[cb] ~= '' then
  local r = fleet_concurrency(K[5 * n + 2], K[5 * n + 3], me, A[cb], A[cb + 1], A[cb + 2], A[cb + 3], A[cb + 4], A[cb + 5], A[cb + 6])
  for j = 1, 5 do out[#out + 1] = r[j] end
end
return out
