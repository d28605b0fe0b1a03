-- Helpers of the job-store scripts (prepended to each). ARGV[1] is always the run's key prefix R.
-- An item lives in the hash R:item:<id>; indexes: R:pending (zset by priority then line), R:running (set),
-- R:final (zset by line), R:unwritten (zset by line: final items not yet in the output file),
-- R:failed (zset by line: the failed items, for the report's table);
-- counters in R:counts (one field per state, `kind:<kind>` for failed items, `total`).
local R = ARGV[1]
local FINAL = { succeeded = true, failed = true, cancelled = true }

local function item_key(id) return R .. ':item:' .. id end

-- Higher priority first, then input order (exact while |priority| < 900000 and line < 1e10).
local function pending_score(priority, line) return -tonumber(priority) * 1e10 + tonumber(line) end

-- Moves item `id` from state `old` to state `new`, keeping every index and counter right.
-- `kind` is the item's last error kind after the move (for the failed-by-kind counters).
local function move(id, old, new, old_kind, new_kind)
  local h = item_key(id)
  local line, priority = unpack(redis.call('HMGET', h, 'line', 'priority'))
  if old then redis.call('HINCRBY', R .. ':counts', old, -1) end
  redis.call('HINCRBY', R .. ':counts', new, 1)
  if old == 'pending' then redis.call('ZREM', R .. ':pending', id) end
  if old == 'running' then redis.call('SREM', R .. ':running', id) end
  if old == 'failed' then
    redis.call('HINCRBY', R .. ':counts', 'kind:' .. (old_kind or 'unknown'), -1)
    redis.call('ZREM', R .. ':failed', id)
  end
  if old and FINAL[old] and not FINAL[new] then
    redis.call('ZREM', R .. ':final', id)
    redis.call('ZREM', R .. ':unwritten', id)
  end
  if new == 'pending' then redis.call('ZADD', R .. ':pending', pending_score(priority, line), id) end
  if new == 'running' then redis.call('SADD', R .. ':running', id) end
  if new == 'failed' then
    redis.call('HINCRBY', R .. ':counts', 'kind:' .. (new_kind or 'unknown'), 1)
    redis.call('ZADD', R .. ':failed', line, id)
  end
  if FINAL[new] then
    redis.call('ZADD', R .. ':final', line, id)
    redis.call('ZADD', R .. ':unwritten', line, id)
  end
  redis.call('HSET', h, 'state', new)
end

local function set_meta(fields)
  for k, v in pairs(fields) do redis.call('HSET', R .. ':meta', k, cjson.encode(v)) end
end

-- Records how an attempt ended: attempts (never lowered), last key, last error, per-key counters.
local function attempt_end(id, attempt, outcome)
  local h = item_key(id)
  local current = tonumber(redis.call('HGET', h, 'attempts') or '0')
  if attempt > current then redis.call('HSET', h, 'attempts', attempt) end
  if outcome.key then redis.call('HSET', h, 'key', outcome.key) end
  if not outcome.ok then
    redis.call('HSET', h, 'kind', outcome.kind, 'msg', outcome.message or '')
    if outcome.status then redis.call('HSET', h, 'status', outcome.status) else redis.call('HDEL', h, 'status') end
  end
  -- Counted once per attempt: a resent command (reply lost with the connection) counts nothing more.
  local ended = tonumber(redis.call('HGET', h, 'ended') or '0')
  if outcome.key and attempt > ended then
    local o = 'ok'
    if not outcome.ok then o = outcome.kind end
    redis.call('HINCRBY', R .. ':keystats', outcome.key .. '\t' .. o, 1)
  end
  if attempt > ended then redis.call('HSET', h, 'ended', attempt) end
end

-- The run has nothing pending or running any more: workers waiting for its end hear it at once on the
-- channel R:events (instead of polling for it).
local function notify_if_drained()
  local pending, running = unpack(redis.call('HMGET', R .. ':counts', 'pending', 'running'))
  if tonumber(pending or '0') == 0 and tonumber(running or '0') == 0 then redis.call('PUBLISH', R .. ':events', 'drained') end
end

-- Applies one completion; a final item is never completed twice (the first result wins).
local function complete(c)
  local h = item_key(c.id)
  local state, kind = unpack(redis.call('HMGET', h, 'state', 'kind'))
  if not state or FINAL[state] then return 0 end
  if c.state == 'pending' then
    if state == 'running' then move(c.id, state, 'pending', kind, kind) end
    return 1
  end
  if c.state == 'succeeded' then
    redis.call('HSET', h, 'result', c.result)
  elseif c.error then
    redis.call('HSET', h, 'kind', c.error.kind, 'msg', c.error.message or '')
    if c.error.status then redis.call('HSET', h, 'status', c.error.status) else redis.call('HDEL', h, 'status') end
    kind = c.error.kind
  end
  move(c.id, state, c.state, kind, kind)
  notify_if_drained()
  return 1
end
