--[[
  UNPAID | CLOSING -> NEEDS_REVIEW: something a person must decide (close failed, wrong amount).
  Nothing is rolled back: the unit stays held (score +inf in the held set, so the sweeper
  no longer treats it as overdue while stock accounting still counts it).

  KEYS[1] order hash   KEYS[2] held zset
  ARGV[1] reason

  Returns
   1 now NEEDS_REVIEW
   0 already NEEDS_REVIEW
  -10 no such order   -11 PAID   -12 CLOSED
]]
local order = redis.call('HMGET', KEYS[1], 'status', 'orderId')
local status = order[1]
if not status then return -10 end
if status == 'NEEDS_REVIEW' then return 0 end
if status == 'PAID' then return -11 end
if status == 'CLOSED' then return -12 end

redis.call('HSET', KEYS[1], 'status', 'NEEDS_REVIEW', 'reviewReason', ARGV[1])
redis.call('ZADD', KEYS[2], 'inf', order[2])
return 1
