--[[
  Put goods on sale in Redis (at creation, and again whenever Redis has lost them).
  Available stock = durable stock - units held by orders still in Redis - units sold in Redis
  that MySQL's stock_count does not count yet (paid orders still waiting in the outbox), so
  reloading after a partial loss never double-counts a unit, even while MySQL is behind.
  An existing stock counter is never touched.

  KEYS[1] goods hash   KEYS[2] stock   KEYS[3] held zset   KEYS[4] paid-pending set
  ARGV[1] title   ARGV[2] price   ARGV[3] startMs   ARGV[4] endMs   ARGV[5] durable stock count

  Returns {code, available}
   1 stock loaded    0 stock was already live (goods fields refreshed)
]]
redis.call('HSET', KEYS[1], 'title', ARGV[1], 'price', ARGV[2], 'startMs', ARGV[3], 'endMs', ARGV[4])
local current = redis.call('GET', KEYS[2])
if current then return {0, tonumber(current)} end
local available = tonumber(ARGV[5]) - redis.call('ZCARD', KEYS[3]) - redis.call('SCARD', KEYS[4])
if available < 0 then available = 0 end
redis.call('SET', KEYS[2], available)
return {1, available}
