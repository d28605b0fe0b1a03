-- ARGV[2] item id, ARGV[3] key name ('' = none). A worker is about to send attempt n+1 of the item:
-- the count is persisted first, once, whichever worker makes it. Returns the new attempt number,
-- or 0 when the item is already final (its result is recorded; nothing more must be sent) or unknown.
-- ARGV[4] a nonce of this call: the client resends a command whose reply a lost connection swallowed,
-- and the same nonce again returns the same number instead of counting the attempt twice.
-- ARGV[5..9] (optional, '' = no check): the BullMQ job's lock key, this worker's lock token, the queue's
-- active list, the job id, the lock's duration (ms). The attempt begins only while this worker holds the
-- job: a lock taken over by another worker (this one stalled) returns -1 and nothing is counted; an
-- expired lock on a job still active here is taken again, so the stalled-job check cannot hand it out
-- while its request runs.
-- ARGV[10] (optional, '' = no check): the attempt number the worker counts from its copy of the item (the
-- job's data): -2 and nothing counted when the persisted count is not one less (the copy is stale).
local id = ARGV[2]
local h = item_key(id)
if ARGV[5] and ARGV[5] ~= '' then
  local holder = redis.call('GET', ARGV[5])
  if holder ~= ARGV[6] then
    if holder then return -1 end
    if not redis.call('LPOS', ARGV[7], ARGV[8]) then return -1 end
    redis.call('SET', ARGV[5], ARGV[6], 'PX', tonumber(ARGV[9]))
  end
end
local state, kind, nonce, last, attempts = unpack(redis.call('HMGET', h, 'state', 'kind', 'bnonce', 'bn', 'attempts'))
if not state or FINAL[state] then return 0 end
if ARGV[4] ~= '' and nonce == ARGV[4] then return tonumber(last) end
if ARGV[10] and ARGV[10] ~= '' and tonumber(attempts or '0') + 1 ~= tonumber(ARGV[10]) then return -2 end
local n = redis.call('HINCRBY', h, 'attempts', 1)
redis.call('HSET', h, 'bnonce', ARGV[4], 'bn', n)
if ARGV[3] ~= '' then redis.call('HSET', h, 'key', ARGV[3]) end
if state ~= 'running' then move(id, state, 'running', kind, kind) end
return n
