--[[
  Append an order to its goods' outbox (design §6), inside the transition that made it final:
  the persister writes the order hash to MySQL, then removes the entry (ackOutbox).
  - ZADD NX keeps the time the order first started waiting (the lag metrics read it);
  - outboxVersion changes with every append, so an ack for an older read of the hash never
    removes a newer state;
  - PERSIST: a final order that gets news again (a payment after close) must not expire before
    the persister has it.
]]
local function appendOutbox(outboxKey, orderKey, orderId, nowMs)
  redis.call('ZADD', outboxKey, 'NX', nowMs, orderId)
  redis.call('HINCRBY', orderKey, 'outboxVersion', 1)
  redis.call('PERSIST', orderKey)
end
