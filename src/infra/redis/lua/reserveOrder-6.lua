--[[
  Grab one unit for a buyer and create the UNPAID order that holds it.

  KEYS[1] goods hash   {title, price, startMs, endMs}
  KEYS[2] stock        available units (integer string)
  KEYS[3] held zset    orderId -> deadline ms of every order holding a unit
  KEYS[4] order hash   (must not exist)
  KEYS[5] buyer        this buyer's active orderId for the goods
  KEYS[6] timers list  `orderId:deadlineMs` requests the workers' timer pump turns into the
                       delayed BullMQ job timeout-<orderId> (queued here, atomically with the
                       grab, so no crash can leave an order without its timer request)

  ARGV[1] orderId   ARGV[2] userId   ARGV[3] goodsId   ARGV[4] payment window ms

  Returns {code, createTime ms, deadline ms, money, timer requests queued}
   1 reserved (the fifth value is the timers list's length after the push: 1 means it was
     empty, and the caller adds the goods to the timer pump's set of goods with requests; a
     global set lives in another Cluster slot, so this script cannot)
  -1 goods (or its stock counter) not in Redis: the caller loads it from MySQL and retries
  -2 not on sale (outside its window)
  -3 buyer already has an active order for this goods
  -4 sold out (the third value is then the sale's end, ms: until then only a restock, which
     reserveOrder's callers hear of on KEYS-free pub/sub, can make it grabbable again)
  -5 order id already used
  Time comes from the Redis server so every API instance judges the window by one clock.
]]
local goods = redis.call('HMGET', KEYS[1], 'price', 'startMs', 'endMs')
local stock = redis.call('GET', KEYS[2])
-- either key missing means Redis lost the goods (or part of it): never read that as sold out
if not goods[1] or not stock then return {-1, 0, 0, 0} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now < tonumber(goods[2]) or now >= tonumber(goods[3]) then return {-2, now, 0, 0} end
if redis.call('EXISTS', KEYS[5]) == 1 then return {-3, now, 0, 0} end
if tonumber(stock) <= 0 then return {-4, now, tonumber(goods[3]), 0} end
if redis.call('EXISTS', KEYS[4]) == 1 then return {-5, now, 0, 0} end

local deadline = now + tonumber(ARGV[4])
redis.call('DECR', KEYS[2])
redis.call('HSET', KEYS[4], 'orderId', ARGV[1], 'goodsId', ARGV[3], 'userId', ARGV[2],
  'money', goods[1], 'status', 'UNPAID', 'createTime', now, 'deadline', deadline)
redis.call('ZADD', KEYS[3], deadline, ARGV[1])
redis.call('SET', KEYS[5], ARGV[1])
local queued = redis.call('RPUSH', KEYS[6], ARGV[1] .. ':' .. deadline)
return {1, now, deadline, tonumber(goods[1]), queued}
