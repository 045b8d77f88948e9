--[[
  How long a close must wait before it may call closeorder (Redis's clock, the one beginPay and
  endPay stamp with), as {waitMs, reason}:
  - a /pay still in flight (its WeChat order may be about to exist): until it ends or its lease
    lapses — reason 1;
  - WeChat's 5-minute rule: until the WeChat order is minAgeMs old — reason 2. An order never
    created at WeChat closes at once. A /pay that died before endPay (its lease lapsed, no stamp)
    may have created one: its lease end counts as the creation time.
  {0, 0}: close now. Needs serverTime.
]]
local function closeDelay(orderKey, minAgeMs)
  local f = redis.call('HMGET', orderKey, 'payLeases', 'payLeaseUntil', 'wechatOrderAt')
  local now = serverTimeMs()
  local leaseUntil = tonumber(f[2] or '0')
  if tonumber(f[1] or '0') > 0 and now < leaseUntil then return {leaseUntil - now, 1} end
  local created = f[3] or (tonumber(f[1] or '0') > 0 and f[2]) or nil
  if created then
    local closeAfter = tonumber(created) + minAgeMs
    if now < closeAfter then return {closeAfter - now, 2} end
  end
  return {0, 0}
end
