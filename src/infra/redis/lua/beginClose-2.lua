--[[
  UNPAID -> CLOSING: the first step of every close (timeout, buyer cancel, review retry).
  Nothing moves stock here; the unit stays held until closeWithRestock.

  It also answers, in the same step, what the close needs next (one round trip, and read from
  the order exactly as this step leaves it): how long it must wait before closeorder (design §7:
  a /pay in flight, WeChat's 5-minute rule; includes/closeDelay.lua) and the order's buyer (the
  buyer key closeWithRestock declares).

  KEYS[1] order hash   KEYS[2] held zset
  ARGV[1] close reason (TIMEOUT | USER_CANCEL)
  ARGV[2] '1' to also reopen a NEEDS_REVIEW order (admin retry), else '0'
  ARGV[3] minimum age of the WeChat order before closeorder (WECHAT_CLOSE_MIN_AGE_MS)

  Returns {code, waitMs, waitReason, userId}; waitMs/waitReason as closeDelay gives them for
  codes 1 and 2, {code, 0, 0, ''} otherwise.
  code  1 now CLOSING
        2 was already CLOSING (a previous attempt died half-way, or it waited: carry on)
      -10 no such order   -11 already PAID   -12 already CLOSED   -13 NEEDS_REVIEW (and not reopened)
]]
--- @include "serverTime"
--- @include "closeDelay"
local function closing(code)
  local delay = closeDelay(KEYS[1], tonumber(ARGV[3]))
  return {code, delay[1], delay[2], redis.call('HGET', KEYS[1], 'userId') or ''}
end

local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {-10, 0, 0, ''} end
if status == 'CLOSING' then return closing(2) end
if status == 'PAID' then return {-11, 0, 0, ''} end
if status == 'CLOSED' then return {-12, 0, 0, ''} end
if status == 'NEEDS_REVIEW' then
  if ARGV[2] ~= '1' then return {-13, 0, 0, ''} end
  -- back under the deadline index so the sweeper watches it again
  redis.call('ZADD', KEYS[2], redis.call('HGET', KEYS[1], 'deadline'), redis.call('HGET', KEYS[1], 'orderId'))
  redis.call('HDEL', KEYS[1], 'reviewReason')
end
redis.call('HSET', KEYS[1], 'status', 'CLOSING', 'closeReason', ARGV[1])
return closing(1)
