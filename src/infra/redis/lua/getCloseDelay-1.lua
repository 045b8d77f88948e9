--[[
  How long a close must wait before it may call closeorder (read only; Redis's clock, the one
  beginPay and endPay stamp with):
  - a /pay still in flight (its WeChat order may be about to exist): until it ends or its lease
    lapses;
  - WeChat's 5-minute rule: until the WeChat order is ARGV[1] ms old. An order never created at
    WeChat closes at once. A /pay that died before endPay (its lease lapsed, no stamp) may have
    created one: its lease end counts as the creation time.

  KEYS[1] order hash
  ARGV[1] minimum age of the WeChat order before closeorder (WECHAT_CLOSE_MIN_AGE_MS)

  Returns {waitMs, reason}
   {0, 0} close now    {ms, 1} a /pay is in flight    {ms, 2} the WeChat order is too young
]]
--- @include "serverTime"
local f = redis.call('HMGET', KEYS[1], 'payLeases', 'payLeaseUntil', 'wechatOrderAt')
local now = serverTimeMs()
local leaseUntil = tonumber(f[2] or '0')
if tonumber(f[1] or '0') > 0 and now < leaseUntil then return {leaseUntil - now, 1} end
local created = f[3] or (tonumber(f[1] or '0') > 0 and f[2]) or nil
if created then
  local closeAfter = tonumber(created) + tonumber(ARGV[1])
  if now < closeAfter then return {closeAfter - now, 2} end
end
return {0, 0}
