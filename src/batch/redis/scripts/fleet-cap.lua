-- The fleet's concurrency cap learned from bare 429s (flow/learned-in-flight-cap.ts, shared:
-- ../fleet-in-flight-cap.ts), as a function of lease.lua (this file goes before it, after
-- bucket-lib.lua: num, fmt, server_now). The rule that decides the cap stays in TypeScript; this
-- keeps the fleet's evidence and its one state.
-- C: hash of the pooled evidence, o<k> and r<k> (calls served and refused that started with k of the
-- fleet's calls in flight) and n (outcomes so far), the latest refusal `rat` (server ms), and the
-- fleet's cap: `c` ('' or absent: none), `t` (the cap a lift is on trial of, ''), `la` (ms without a
-- refusal before the next lift), `cs` (server ms it was set) and `v` (its version, 0: never set).
-- A worker adds its outcomes since its last call (`delta`: 'k:ok:refused;...'); all counts are halved
-- when n passes a multiple of `halve`, as one learner halves its own. It proposes a new state
-- (`proposal`: 'cap:trialOf:liftAfter', '' = none) with the version it last saw (`seen`): taken only
-- when no other worker's came since (it decided from the state now in force), so the workers that see
-- the same refusal change the cap once. Forgotten after LEARN_TTL_MS without news, as the rest of what
-- the fleet learnt of a key.
-- Returns the counts ('k:ok:refused;...', levels with any), n, c, t, la, ms since cs ('' = never
-- set), ms since rat ('' = none) and v.
local function fleet_cap(C, seen, delta, proposal, halve, ttl_ms)
  local now = server_now()
  local changed = false
  if delta ~= '' then
    local total, refused = 0, 0
    for k, o, r in string.gmatch(delta, '(%d+):([^:;]+):([^:;]+)') do
      o, r = tonumber(o), tonumber(r)
      if o > 0 then redis.call('HINCRBYFLOAT', C, 'o' .. k, o) end
      if r > 0 then redis.call('HINCRBYFLOAT', C, 'r' .. k, r) end
      total, refused = total + o + r, refused + r
    end
    local before = num(redis.call('HGET', C, 'n')) or 0
    local after = before + total
    redis.call('HSET', C, 'n', fmt(after))
    if refused > 0 then redis.call('HSET', C, 'rat', fmt(now)) end
    if math.floor(after / halve) > math.floor(before / halve) then
      local all = redis.call('HGETALL', C)
      for j = 1, #all, 2 do
        if string.match(all[j], '^[or]%d+$') then redis.call('HSET', C, all[j], fmt(tonumber(all[j + 1]) / 2)) end
      end
    end
    changed = true
  end
  if proposal ~= '' then
    local v = num(redis.call('HGET', C, 'v')) or 0
    if tonumber(seen) == v then
      local c, t, la = string.match(proposal, '^([^:]*):([^:]*):([^:]*)$')
      redis.call('HSET', C, 'c', c, 't', t, 'la', la, 'cs', fmt(now), 'v', v + 1)
      changed = true
    end
  end
  if changed then redis.call('PEXPIRE', C, ttl_ms) end
  local h = {}
  local all = redis.call('HGETALL', C)
  for j = 1, #all, 2 do h[all[j]] = all[j + 1] end
  local levels = {}
  for f in pairs(h) do
    local k = string.match(f, '^o(%d+)$')
    if k then levels[#levels + 1] = k .. ':' .. h[f] .. ':' .. (h['r' .. k] or '0') end
    k = string.match(f, '^r(%d+)$')
    if k and not h['o' .. k] then levels[#levels + 1] = k .. ':0:' .. h[f] end
  end
  local cs, rat = num(h.cs), num(h.rat)
  return {
    table.concat(levels, ';'), h.n or '0', h.c or '', h.t or '', h.la or '',
    cs and fmt(now - cs) or '', rat and fmt(now - rat) or '', h.v or '0',
  }
end
