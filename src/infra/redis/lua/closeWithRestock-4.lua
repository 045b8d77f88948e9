--[[
  CLOSING -> CLOSED: WeChat confirmed the payment is closed; the unit goes back on sale and the
  buyer may grab again. The only place a unit is returned to stock. The order joins the goods'
  outbox; the persister writes it to MySQL and only then sets the hash's expiry.

  KEYS[1] order hash   KEYS[2] stock   KEYS[3] held zset   KEYS[4] outbox zset
  ARGV[1] restock channel (published to when the goods was sold out)
  ARGV[2] prefix of the goods' buyer keys (`…{g:<id>}:buyer:`): the buyer's key is that prefix and
          the order's userId, read here rather than by the caller first (a round trip less per
          close). The key shares the goods' hash tag, so it is on this node, as ackOutbox's
          order keys are.

  Returns
   1 closed, unit restocked
   0 already CLOSED (nothing done: a retried job)
  -10 no such order   -11 PAID   -13 NEEDS_REVIEW   -14 not CLOSING (still UNPAID)
]]
--- @include "serverTime"
--- @include "appendOutbox"
--- @include "restockOne"
local order = redis.call('HMGET', KEYS[1], 'status', 'orderId', 'goodsId', 'userId')
local status = order[1]
if not status then return -10 end
if status == 'CLOSED' then return 0 end
if status == 'PAID' then return -11 end
if status == 'NEEDS_REVIEW' then return -13 end
if status ~= 'CLOSING' then return -14 end

local now = serverTimeMs()
restockOne(KEYS[2], ARGV[1], order[3])
redis.call('ZREM', KEYS[3], order[2])
local buyerKey = ARGV[2] .. (order[4] or '')
if redis.call('GET', buyerKey) == order[2] then redis.call('DEL', buyerKey) end
redis.call('HSET', KEYS[1], 'status', 'CLOSED', 'closedAt', now)
appendOutbox(KEYS[4], KEYS[1], order[2], now)
return 1
