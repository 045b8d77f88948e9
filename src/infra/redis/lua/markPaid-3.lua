--[[
  UNPAID | CLOSING | NEEDS_REVIEW -> PAID when WeChat reports a successful payment of the order's
  exact amount. The unit is sold: it leaves the held set and is never restocked. (An order in
  review still holds its unit, and WeChat's word that it was paid settles the question.)

  KEYS[1] order hash   KEYS[2] held zset   KEYS[3] buyer
  ARGV[1] transaction_id   ARGV[2] total_fee (fen)   ARGV[3] pay time ms
  ARGV[4] seconds to keep the final order in Redis

  Returns
   1 now PAID
   0 already PAID (duplicate notification)
  -10 no such order   -12 already CLOSED (payment after close: refund)
  -15 total_fee differs from the order's amount (nothing changed)
]]
local order = redis.call('HMGET', KEYS[1], 'status', 'orderId', 'money')
local status = order[1]
if not status then return -10 end
if status == 'PAID' then return 0 end
if status == 'CLOSED' then return -12 end
if tonumber(ARGV[2]) ~= tonumber(order[3]) then return -15 end

redis.call('HSET', KEYS[1], 'status', 'PAID', 'transactionId', ARGV[1], 'payTime', ARGV[3])
redis.call('HDEL', KEYS[1], 'reviewReason')
redis.call('ZREM', KEYS[2], order[2])
if redis.call('GET', KEYS[3]) == order[2] then redis.call('DEL', KEYS[3]) end
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
