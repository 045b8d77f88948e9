--[[
  Take or renew a lease (the persister's per-goods lease: one process drains one goods' outbox
  at a time; correctness never depends on it, it only saves duplicate MySQL work).

  KEYS[1] lease key
  ARGV[1] holder id   ARGV[2] lease ms

  Returns 1 held by the caller now, 0 held by someone else.
]]
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
