--[[
  Move an outbox entry the persister cannot read (a hand-edited or deleted order hash) out of
  the way, so it never blocks the goods' other orders. A person finds it, with the reason, in
  the goods' outbox-rejected hash.

  KEYS[1] outbox zset   KEYS[2] outbox-rejected hash
  ARGV[1] the entry (member of the outbox)   ARGV[2] why it was set aside

  Returns
   1 set aside
   0 the entry was no longer in the outbox (another persister handled it)
]]
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
