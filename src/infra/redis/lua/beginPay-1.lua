--[[
  The pay/close lease, pay side (design §7): /pay may create a WeChat order only while the order
  is UNPAID, and tells the close path it is doing so. Once a close has begun (CLOSING), /pay is
  refused; a close that begins while a /pay is in flight waits for it (getCloseDelay), so every
  WeChat order we create is closed or paid, never left open behind a closed order.

  Several /pay calls of one order may overlap (identical parameters, WeChat's re-entry rule):
  payLeases counts them; payLeaseUntil bounds the wait if a process dies mid-call.

  KEYS[1] order hash
  ARGV[1] lease ms (longer than one WeChat call may take)

  Returns
   1 lease taken: call unifiedorder, then endPay
  -10 no such order   -11 PAID   -12 CLOSED   -13 NEEDS_REVIEW   -16 CLOSING (a close has begun)
]]
--- @include "serverTime"
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return -10 end
if status == 'PAID' then return -11 end
if status == 'CLOSED' then return -12 end
if status == 'NEEDS_REVIEW' then return -13 end
if status ~= 'UNPAID' then return -16 end

local untilMs = serverTimeMs() + tonumber(ARGV[1])
local current = tonumber(redis.call('HGET', KEYS[1], 'payLeaseUntil') or '0')
if untilMs > current then redis.call('HSET', KEYS[1], 'payLeaseUntil', untilMs) end
redis.call('HINCRBY', KEYS[1], 'payLeases', 1)
return 1
