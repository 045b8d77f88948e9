--[[
  UNPAID | CLOSING | NEEDS_REVIEW -> PAID when WeChat reports a successful payment of the order's
  exact amount. The unit is sold: it leaves the held set and is never restocked. (An order in
  review still holds its unit, and WeChat's word that it was paid settles the question.)
  Until the persister has decremented MySQL's stock_count, the order stays in the goods'
  paid-pending set, which stock accounting counts as sold (loadGoods, the sweeper's drift check).

  A payment for a CLOSED order (its unit already back on sale) is recorded on the order with a
  PAID_AFTER_CLOSE review and sent through the outbox again; the order stays CLOSED.

  The payment path calls it without reading the order first (one round trip per payment): the
  buyer key comes from the order's own userId, and with ARGV[7] = '1' a CLOSED order is left
  untouched (-21), so the caller can put its sale back in live-goods before the append (retire.ts)
  and ask again with ARGV[7] = '0'.

  KEYS[1] order hash   KEYS[2] held zset   KEYS[3] outbox zset   KEYS[4] paid-pending set
  ARGV[1] transaction_id   ARGV[2] total_fee (fen)   ARGV[3] pay time ms
  ARGV[4] the payment event's fields as JSON (stored as `payment:<transaction_id>`)
  ARGV[5] review reason used if the order is already CLOSED
  ARGV[6] the goods' buyer key prefix (`…{g:<id>}:buyer:`; same slot as KEYS[1])
  ARGV[7] '1': stop at a CLOSED order (-21) instead of recording the payment on it

  Returns
   1 now PAID
   0 already PAID (duplicate notification)
  -10 no such order
  -12 already CLOSED: this payment is now recorded (payment after close: refund)
  -20 already CLOSED and this very payment was recorded before (a copy of it): nothing changed
  -21 already CLOSED, ARGV[7] = '1': nothing changed (relist the goods, then call again)
  -15 total_fee differs from the order's amount (nothing changed)
]]
--- @include "serverTime"
--- @include "appendOutbox"
local order = redis.call('HMGET', KEYS[1], 'status', 'orderId', 'money', 'userId')
local status = order[1]
if not status then return -10 end
if status == 'PAID' then return 0 end
local paymentField = 'payment:' .. ARGV[1]
if status == 'CLOSED' then
  if redis.call('HEXISTS', KEYS[1], paymentField) == 1 then return -20 end
  if ARGV[7] == '1' then return -21 end
  redis.call('HSET', KEYS[1], paymentField, ARGV[4], 'review:PAID_AFTER_CLOSE', ARGV[5])
  appendOutbox(KEYS[3], KEYS[1], order[2], serverTimeMs())
  return -12
end
if tonumber(ARGV[2]) ~= tonumber(order[3]) then return -15 end

redis.call('HSET', KEYS[1], 'status', 'PAID', 'transactionId', ARGV[1], 'payTime', ARGV[3], paymentField, ARGV[4])
redis.call('HDEL', KEYS[1], 'reviewReason')
redis.call('ZREM', KEYS[2], order[2])
local buyer = ARGV[6] .. (order[4] or '')
if redis.call('GET', buyer) == order[2] then redis.call('DEL', buyer) end
redis.call('SADD', KEYS[4], order[2])
appendOutbox(KEYS[3], KEYS[1], order[2], serverTimeMs())
return 1
