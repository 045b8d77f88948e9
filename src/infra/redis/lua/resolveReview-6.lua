--[[
  A person resolves an order's review (design §7) and Redis is settled in the same step:
  - NEEDS_REVIEW (the order holds its unit):
      RESTOCK, REFUNDED -> CLOSED, the unit back on sale (the buyer's money, if any, went back);
      SOLD              -> PAID, the unit stays sold (paid-pending until MySQL's stock_count has
                           it, exactly like a payment);
    either way the order leaves the held set and the buyer may grab again;
  - CLOSED or PAID with a review (a payment after close, a wrong amount beside the right one):
      the unit is not held, so only RESTOCK / REFUNDED can be recorded; SOLD is refused.
  Every review kind on the order (`review:<kind>`) gets `resolved:<kind>` = outcome; the order
  joins the outbox, and the persister writes those items RESOLVED with the outcome. A review of
  another kind recorded later (a new event) starts OPEN; a kind once resolved stays resolved.

  KEYS[1] order hash   KEYS[2] stock   KEYS[3] held zset   KEYS[4] buyer   KEYS[5] outbox zset
  KEYS[6] paid-pending set
  ARGV[1] outcome (RESTOCK | SOLD | REFUNDED)   ARGV[2] restock channel

  Returns
   1 resolved
  -10 no such order
  -17 every review of the order is already resolved
  -18 SOLD asked for an order that holds no unit
  -19 no review on the order (or it is UNPAID / CLOSING: a close is running)
]]
--- @include "serverTime"
--- @include "appendOutbox"
--- @include "restockOne"
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return -10 end
if status == 'UNPAID' or status == 'CLOSING' then return -19 end

local fields = redis.call('HKEYS', KEYS[1])
local open = {}
local any = false
for _, field in ipairs(fields) do
  if string.sub(field, 1, 7) == 'review:' then
    any = true
    local kind = string.sub(field, 8)
    if redis.call('HEXISTS', KEYS[1], 'resolved:' .. kind) == 0 then table.insert(open, kind) end
  end
end
if not any then return -19 end
if #open == 0 then return -17 end
local outcome = ARGV[1]
if outcome == 'SOLD' and status ~= 'NEEDS_REVIEW' then return -18 end

local now = serverTimeMs()
local orderId = redis.call('HGET', KEYS[1], 'orderId')
if status == 'NEEDS_REVIEW' then
  if outcome == 'SOLD' then
    redis.call('HSET', KEYS[1], 'status', 'PAID', 'payTime', now)
    redis.call('SADD', KEYS[6], orderId)
  else
    restockOne(KEYS[2], ARGV[2], redis.call('HGET', KEYS[1], 'goodsId'))
    redis.call('HSET', KEYS[1], 'status', 'CLOSED', 'closedAt', now)
  end
  redis.call('HDEL', KEYS[1], 'reviewReason')
  redis.call('ZREM', KEYS[3], orderId)
  if redis.call('GET', KEYS[4]) == orderId then redis.call('DEL', KEYS[4]) end
end
for _, kind in ipairs(open) do
  redis.call('HSET', KEYS[1], 'resolved:' .. kind, outcome .. ':' .. now)
end
appendOutbox(KEYS[5], KEYS[1], orderId, now)
return 1
