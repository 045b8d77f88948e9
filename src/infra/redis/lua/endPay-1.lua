--[[
  The pay/close lease, end of one /pay call (see beginPay). Records when the WeChat order was
  created, for WeChat's 5-minute close rule: the time this runs is an upper bound of the
  creation (the call has returned), and only the first creation counts (re-entries keep it).

  KEYS[1] order hash
  ARGV[1] '1' if the request reached WeChat (it may have created the order), '0' if it surely did not

  Returns
   1 done
  -10 no such order
]]
--- @include "serverTime"
if redis.call('EXISTS', KEYS[1]) == 0 then return -10 end
if tonumber(redis.call('HGET', KEYS[1], 'payLeases') or '0') > 0 then redis.call('HINCRBY', KEYS[1], 'payLeases', -1) end
if ARGV[1] == '1' then redis.call('HSET', KEYS[1], 'wechatOrderAt', serverTimeMs()) end
return 1
