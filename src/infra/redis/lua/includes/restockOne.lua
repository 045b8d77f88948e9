-- Put one unit back on sale. When the counter rises from 0 the goods was sold out and API
-- processes may be answering SOLD_OUT from memory (src/domain/goods/sold-out.ts): tell them.
-- PUBLISH names no key, so the script still touches one Cluster slot, and a cluster delivers
-- a PUBLISH to subscribers on every node.
local function restockOne(stockKey, channel, goodsId)
  if redis.call('INCR', stockKey) == 1 then redis.call('PUBLISH', channel, goodsId) end
end
