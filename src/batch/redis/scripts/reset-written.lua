-- Every final item unwritten again, output offset 0.
redis.call('DEL', R .. ':unwritten')
if redis.call('EXISTS', R .. ':final') == 1 then redis.call('ZUNIONSTORE', R .. ':unwritten', 1, R .. ':final') end
set_meta({ outputOffset = 0 })
return 1
