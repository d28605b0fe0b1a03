-- The run's state in one call, for a worker waiting for its end: { meta exists (1/0), ingest done (1/0), pending, running }.
local created, done = unpack(redis.call('HMGET', R .. ':meta', 'createdAt', 'ingestDone'))
local pending, running = unpack(redis.call('HMGET', R .. ':counts', 'pending', 'running'))
local exists = 0
if created then exists = 1 end
local ingested = 0
if done == 'true' then ingested = 1 end
return { exists, ingested, tonumber(pending or '0'), tonumber(running or '0') }
