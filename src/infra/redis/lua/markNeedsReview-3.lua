--[[
  UNPAID | CLOSING | NEEDS_REVIEW -> NEEDS_REVIEW: something a person must decide (close failed,
  wrong amount). Nothing is rolled back: the unit stays held (score +inf in the held set, so the
  sweeper no longer treats it as overdue while stock accounting still counts it).
  The review is kept on the order as `review:<kind>` (and the payment, if one caused it, as
  `payment:<transaction_id>`), and the order joins the outbox for the persister. An order
  already in review gains further kinds or payments; a repeat of a known one changes nothing.

  KEYS[1] order hash   KEYS[2] held zset   KEYS[3] outbox zset
  ARGV[1] review kind (CLOSE_FAILED | AMOUNT_MISMATCH)   ARGV[2] reason
  ARGV[3] transaction_id of the payment that caused it, or ''   ARGV[4] its fields as JSON, or ''

  Returns
   1 now NEEDS_REVIEW
   0 already NEEDS_REVIEW (a new kind or payment is recorded; a known one changes nothing)
  -10 no such order   -11 PAID   -12 CLOSED
]]
--- @include "serverTime"
--- @include "appendOutbox"
local order = redis.call('HMGET', KEYS[1], 'status', 'orderId')
local status = order[1]
if not status then return -10 end
if status == 'PAID' then return -11 end
if status == 'CLOSED' then return -12 end

local reviewField = 'review:' .. ARGV[1]
local paymentField = ARGV[3] ~= '' and ('payment:' .. ARGV[3]) or nil
if status == 'NEEDS_REVIEW' then
  local known = redis.call('HEXISTS', KEYS[1], reviewField) == 1
  if paymentField and redis.call('HEXISTS', KEYS[1], paymentField) == 0 then known = false end
  if known then return 0 end
end

redis.call('HSET', KEYS[1], 'status', 'NEEDS_REVIEW', 'reviewReason', ARGV[2], reviewField, ARGV[2])
if paymentField then redis.call('HSET', KEYS[1], paymentField, ARGV[4]) end
redis.call('ZADD', KEYS[2], 'inf', order[2])
appendOutbox(KEYS[3], KEYS[1], order[2], serverTimeMs())
if status == 'NEEDS_REVIEW' then return 0 end
return 1
