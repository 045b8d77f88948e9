--[[
  UNPAID -> CLOSING: the first step of every close (timeout, buyer cancel, review retry).
  Nothing moves stock here; the unit stays held until closeWithRestock.

  KEYS[1] order hash   KEYS[2] held zset
  ARGV[1] close reason (TIMEOUT | USER_CANCEL)
  ARGV[2] '1' to also reopen a NEEDS_REVIEW order (admin retry), else '0'

  Returns
   1 now CLOSING
   2 was already CLOSING (a previous attempt died half-way: carry on)
  -10 no such order   -11 already PAID   -12 already CLOSED   -13 NEEDS_REVIEW (and not reopened)
]]
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return -10 end
if status == 'CLOSING' then return 2 end
if status == 'PAID' then return -11 end
if status == 'CLOSED' then return -12 end
if status == 'NEEDS_REVIEW' then
  if ARGV[2] ~= '1' then return -13 end
  -- back under the deadline index so the sweeper watches it again
  redis.call('ZADD', KEYS[2], redis.call('HGET', KEYS[1], 'deadline'), redis.call('HGET', KEYS[1], 'orderId'))
  redis.call('HDEL', KEYS[1], 'reviewReason')
end
redis.call('HSET', KEYS[1], 'status', 'CLOSING', 'closeReason', ARGV[1])
return 1
