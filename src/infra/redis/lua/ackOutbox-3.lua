--[[
  After the persister's MySQL transaction committed: remove the batch's entries from the goods'
  outbox and let the final orders expire. Run only after the commit; a crash before it leaves
  the entries in place and the next batch writes them again, which changes nothing in MySQL.

  KEYS[1] outbox zset   KEYS[2] paid-pending set   KEYS[3] sold-acks generation (see loadGoods)
  ARGV[1] order hash key prefix (the key of order X is ARGV[1] .. X; same hash tag as KEYS)
  ARGV[2] seconds a final (PAID / CLOSED) order stays in Redis after it is persisted
  ARGV[3..] triples: orderId, outboxVersion the persister read, status it wrote to MySQL

  An entry is removed only if the order's outboxVersion is still the one that was read: a
  transition after the read appended a newer state, which the next batch persists.
  A PAID order leaves the paid-pending set whatever its version: MySQL has counted its sale;
  the generation moves with it, so a loadGoods holding an older MySQL read starts again.

  Returns the number of entries removed.
]]
local removed = 0
local sold = 0
for i = 3, #ARGV, 3 do
  local orderId, version, written = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local orderKey = ARGV[1] .. orderId
  if written == 'PAID' then sold = sold + redis.call('SREM', KEYS[2], orderId) end
  local state = redis.call('HMGET', orderKey, 'outboxVersion', 'status')
  if state[1] == version then
    removed = removed + redis.call('ZREM', KEYS[1], orderId)
    if state[2] == 'PAID' or state[2] == 'CLOSED' then redis.call('EXPIRE', orderKey, ARGV[2]) end
  end
end
if sold > 0 then redis.call('INCR', KEYS[3]) end
return removed
