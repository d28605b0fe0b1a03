-- The fleet's liveness reports and its adaptive concurrency limit, as functions of lease.lua (this file
-- goes before it, after bucket-lib.lua: num, fmt, server_now).

-- A worker's report counts this long (ms): one that stopped reporting (crashed, idle, or its calls
-- outlast this without a lease call) no longer holds a share of the fleet's start cap or of its limit.
local FLEET_FRESH_MS = 2000

-- The fields of hash F (worker id -> '<fields>:<server ms>', a report; '<id>/log' -> '<server ms>|<list>',
-- lease.lua's call logs), other than `me`'s, read in one HGETALL: the fresh reports as id -> '<fields>'
-- and the fresh logs in the hash's order as { server ms, list }; stale ones are removed. The one rule
-- of liveness for the start cap, the limit and the learned cap's evidence. A field with a '/' in its
-- name other than a log is neither.
local LOG = '/log'
local function fresh_fields(F, me, now)
  local reports, logs, stale = {}, {}, {}
  local all = redis.call('HGETALL', F)
  for j = 1, #all, 2 do
    local id, raw = all[j], all[j + 1]
    local v, at, is_log
    if id == me or id == me .. LOG then
      -- this worker's own
    elseif string.sub(id, -#LOG) == LOG then
      is_log = true
      at, v = string.match(raw, '^([^|]*)|(.*)$')
    elseif not string.find(id, '/', 1, true) then
      is_log = false
      v, at = string.match(raw, '^(.*):([^:]*)$')
    end
    if is_log ~= nil then
      if v and tonumber(at) and now - tonumber(at) <= FLEET_FRESH_MS then
        if is_log then logs[#logs + 1] = { tonumber(at), v } else reports[id] = v end
      else
        stale[#stale + 1] = id
      end
    end
  end
  if #stale > 0 then redis.call('HDEL', F, unpack(stale)) end
  return reports, logs
end

-- The fleet's adaptive concurrency limit (flow/adaptive-concurrency.ts, shared: ../shared-concurrency.ts).
-- C: hash of the limit `lim` (the fleet's calls in flight), `seq` (its steps so far), `ss` (1 while in
-- slow start), `at` (server ms of the last step); W: the workers' reports (id -> 'share:server ms').
-- A worker proposes its own step of its share (from -> to, '' = none) with the step of the fleet its
-- limit is at (`seen`): the fleet takes it only when no step came since (its window judged the
-- fleet's current limit), so N workers that see the same overload step the fleet once. The step is
-- the same ratio of the fleet's limit (halved, doubled, one more per worker), within the live
-- workers' floors and ceilings. Each worker's share is the limit split over the live workers (in
-- order of id, the first `lim % workers` one more), at least 1. `gone`: the worker stops, its report
-- goes. Returns lim, seq, ss, workers, share ('' each when gone).
local CONC_TTL_MS = 600000
local function fleet_concurrency(C, W, me, seen, from, to, min, max, init, gone)
  local now = server_now()
  if gone == '1' then
    redis.call('HDEL', W, me)
    return { '', '', '', '', '' }
  end
  local ids = { me }
  for id in pairs((fresh_fields(W, me, now))) do ids[#ids + 1] = id end
  local workers = #ids
  local c = redis.call('HMGET', C, 'lim', 'seq', 'ss')
  local lim, seq, ss = num(c[1]), num(c[2]) or 0, c[3] or '1'
  if lim == nil then
    lim = tonumber(init)
    redis.call('HSET', C, 'lim', lim, 'seq', 0, 'ss', ss)
  end
  if to ~= '' and tonumber(seen) == seq then
    local lo, hi = workers * tonumber(min), workers * tonumber(max)
    local from_n, to_n = tonumber(from), tonumber(to)
    local eff = math.max(lo, math.min(hi, lim))
    local nxt = math.floor(eff * to_n / from_n + 0.5)
    if to_n > from_n then nxt = math.max(nxt, eff + 1) else nxt = math.min(nxt, eff - 1) end
    nxt = math.max(lo, math.min(hi, nxt))
    if nxt ~= eff then
      lim, seq = nxt, seq + 1
      if to_n < from_n then ss = '0' end
      redis.call('HSET', C, 'lim', lim, 'seq', seq, 'ss', ss, 'at', fmt(now))
    end
  end
  redis.call('PEXPIRE', C, CONC_TTL_MS)
  table.sort(ids)
  local rank = 1
  while ids[rank] ~= me do rank = rank + 1 end
  local share = math.floor(lim / workers)
  if rank <= lim % workers then share = share + 1 end
  share = math.max(1, share)
  redis.call('HSET', W, me, fmt(share) .. ':' .. fmt(now))
  redis.call('PEXPIRE', W, FLEET_FRESH_MS * 2)
  return { lim, seq, ss, workers, share }
end
