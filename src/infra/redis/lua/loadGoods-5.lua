--[[
  Put goods on sale in Redis (at creation, and again whenever Redis has lost them).
  Available stock = durable stock - units held by orders still in Redis - units sold in Redis
  that MySQL's stock_count does not count yet (paid orders still waiting in the outbox), so
  reloading after a partial loss never double-counts a unit, even while MySQL is behind.
  An existing stock counter is never touched.

  The durable count was read from MySQL before this runs. If the persister acked a paid order
  in between (its sale now in stock_count *and* gone from paid-pending), that count would be
  one too high per such order: oversell. So the caller passes the sold-acks generation it read
  before its MySQL read; if it moved, nothing is loaded and the caller reads MySQL again.

  KEYS[1] goods hash   KEYS[2] stock   KEYS[3] held zset   KEYS[4] paid-pending set
  KEYS[5] sold-acks generation (counter bumped by ackOutbox)
  ARGV[1] title   ARGV[2] price   ARGV[3] startMs   ARGV[4] endMs   ARGV[5] durable stock count
  ARGV[6] the generation read before the durable count ('' when unknown: load only if live)

  A sale that has ended (by Redis's clock, the one the grab judges by) is not loaded at all:
  nothing can be grabbed any more, and its keys, once retired (retireGoods), must not come back
  without an expiry.

  Returns {code, available}
   1 stock loaded    0 stock was already live (goods fields refreshed)
  -2 the sale has ended: nothing written
  -6 stock not live and the durable count may be stale: read the generation, then MySQL, again
]]
--- @include "serverTime"
if serverTimeMs() >= tonumber(ARGV[4]) then return {-2, 0} end
redis.call('HSET', KEYS[1], 'title', ARGV[1], 'price', ARGV[2], 'startMs', ARGV[3], 'endMs', ARGV[4])
local current = redis.call('GET', KEYS[2])
if current then return {0, tonumber(current)} end
if ARGV[6] ~= (redis.call('GET', KEYS[5]) or '0') then return {-6, 0} end
local available = tonumber(ARGV[5]) - redis.call('ZCARD', KEYS[3]) - redis.call('SCARD', KEYS[4])
if available < 0 then available = 0 end
redis.call('SET', KEYS[2], available)
return {1, available}
