--[[
  UNPAID | CLOSING | NEEDS_REVIEW -> PAID when WeChat reports a successful payment of the order's
  exact amount. The unit is sold: it leaves the held set and is never restocked. (An order in
  review still holds its unit, and WeChat's word that it was paid settles the question.)
  Until the persister has decremented MySQL's stock_count, the order stays in the goods'
  paid-pending set, which stock accounting counts as sold (loadGoods, the sweeper's drift check).

  A payment for a CLOSED order (its unit already back on sale) is recorded on the order with a
  PAID_AFTER_CLOSE review and sent through the outbox again; the order stays CLOSED.

  KEYS[1] order hash   KEYS[2] held zset   KEYS[3] buyer   KEYS[4] outbox zset
  KEYS[5] paid-pending set
  ARGV[1] transaction_id   ARGV[2] total_fee (fen)   ARGV[3] pay time ms
  ARGV[4] the payment event's fields as JSON (stored as `payment:<transaction_id>`)
  ARGV[5] review reason used if the order is already CLOSED

  Returns
   1 now PAID
   0 already PAID (duplicate notification)
  -10 no such order
  -12 already CLOSED: this payment is now recorded (payment after close: refund)
  -20 already CLOSED and this very payment was recorded before (a copy of it): nothing changed
  -15 total_fee differs from the order's amount (nothing changed)
]]
--- @include "serverTime"
--- @include "appendOutbox"
local order = redis.call('HMGET', KEYS[1], 'status', 'orderId', 'money')
local status = order[1]
if not status then return -10 end
if status == 'PAID' then return 0 end
local paymentField = 'payment:' .. ARGV[1]
if status == 'CLOSED' then
  if redis.call('HEXISTS', KEYS[1], paymentField) == 1 then return -20 end
  redis.call('HSET', KEYS[1], paymentField, ARGV[4], 'review:PAID_AFTER_CLOSE', ARGV[5])
  appendOutbox(KEYS[4], KEYS[1], order[2], serverTimeMs())
  return -12
end
if tonumber(ARGV[2]) ~= tonumber(order[3]) then return -15 end

redis.call('HSET', KEYS[1], 'status', 'PAID', 'transactionId', ARGV[1], 'payTime', ARGV[3], paymentField, ARGV[4])
redis.call('HDEL', KEYS[1], 'reviewReason')
redis.call('ZREM', KEYS[2], order[2])
if redis.call('GET', KEYS[3]) == order[2] then redis.call('DEL', KEYS[3]) end
redis.call('SADD', KEYS[5], order[2])
appendOutbox(KEYS[4], KEYS[1], order[2], serverTimeMs())
return 1
