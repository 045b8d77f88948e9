--[[
  Take a goods whose sale is over out of the live sale (design §9, key lifecycle): once its sale
  has ended and nothing of it is left in flight, its keys get a time to live and the caller
  removes it from live-goods (a key in another Cluster slot, so not here), after which no timer
  pump, sweeper or persister visits it again.

  "Nothing in flight": no order holds a unit (UNPAID, CLOSING, NEEDS_REVIEW: the held zset),
  no timer request waits for the pump, no final state waits in the outbox for MySQL, and no
  paid order waits for MySQL's stock_count. Each of these is written only by scripts on the same
  slot, so the check and the expiry are one atomic step: nothing can slip in between.

  What keeps the retirement honest afterwards:
  - no grab is possible (the sale ended), and loading an ended goods back is refused
    (goods-service), so the stock counter is never recreated;
  - the only news an order of a retired goods can still get is a late payment or a review
    resolution on a CLOSED/PAID order; their callers put the goods back in live-goods before
    that transition (and after it), so its outbox entry is drained; the next sweep retires the
    goods again.
  Order hashes are not touched: each already expires a day after MySQL has it (ackOutbox).
  The outbox-rejected hash (entries set aside for a person) is kept without expiry.

  KEYS[1] goods hash   KEYS[2] stock   KEYS[3] held zset   KEYS[4] timers list   KEYS[5] outbox zset
  KEYS[6] paid-pending set   KEYS[7] sold-acks   KEYS[8] sweep cursor (the sweeper's offset)
  ARGV[1] time to live of the retired keys, seconds
  The sale's end is judged by Redis's clock, the one reserveOrder and loadGoods judge it by, so
  no grab or load can still come after a retirement, whatever the processes' clocks say.

  Returns
   1 retired now (keys expire; the caller removes the goods from live-goods)
   2 the goods hash is gone and nothing is in flight: nothing to expire; remove it too
   0 the sale has not ended
  -1 something is still in flight: not yet
]]
--- @include "serverTime"
local endMs = redis.call('HGET', KEYS[1], 'endMs')
local now = serverTimeMs()
if endMs and now < tonumber(endMs) then return 0 end
if redis.call('ZCARD', KEYS[3]) > 0 or redis.call('LLEN', KEYS[4]) > 0
  or redis.call('ZCARD', KEYS[5]) > 0 or redis.call('SCARD', KEYS[6]) > 0 then
  return -1
end
redis.call('DEL', KEYS[8])
if not endMs then return 2 end
redis.call('HSET', KEYS[1], 'retiredAt', now)
for _, key in ipairs({KEYS[1], KEYS[2], KEYS[7]}) do redis.call('EXPIRE', key, ARGV[1]) end
return 1
