--[[
  CLOSING -> CLOSED: WeChat confirmed the payment is closed; the unit goes back on sale and the
  buyer may grab again. The only place a unit is returned to stock. The order joins the goods'
  outbox; the persister writes it to MySQL and only then sets the hash's expiry.

  KEYS[1] order hash   KEYS[2] stock   KEYS[3] held zset   KEYS[4] buyer   KEYS[5] outbox zset
  ARGV[1] restock channel (published to when the goods was sold out)
  (The buyer key is declared, not built here from the order's userId: while a slot migrates, an
  undeclared key may already have moved, the GET would see nothing, and the buyer would stay
  marked as having an active order; a declared one makes Redis redirect the whole call.)

  Returns {code, lateMs, closeReason}: for code 1, how late the close is (closedAt − deadline,
  both Redis's clock) and why it closed, for the metrics without another read; {code, 0, ''}
  otherwise.
  code  1 closed, unit restocked
        0 already CLOSED (nothing done: a retried job)
      -10 no such order   -11 PAID   -13 NEEDS_REVIEW   -14 not CLOSING (still UNPAID)
]]
--- @include "serverTime"
--- @include "appendOutbox"
--- @include "restockOne"
local order = redis.call('HMGET', KEYS[1], 'status', 'orderId', 'goodsId', 'deadline', 'closeReason')
local status = order[1]
if not status then return {-10, 0, ''} end
if status == 'CLOSED' then return {0, 0, ''} end
if status == 'PAID' then return {-11, 0, ''} end
if status == 'NEEDS_REVIEW' then return {-13, 0, ''} end
if status ~= 'CLOSING' then return {-14, 0, ''} end

local now = serverTimeMs()
restockOne(KEYS[2], ARGV[1], order[3])
redis.call('ZREM', KEYS[3], order[2])
if redis.call('GET', KEYS[4]) == order[2] then redis.call('DEL', KEYS[4]) end
redis.call('HSET', KEYS[1], 'status', 'CLOSED', 'closedAt', now)
appendOutbox(KEYS[5], KEYS[1], order[2], now)
return {1, now - tonumber(order[4] or now), order[5] or 'TIMEOUT'}
