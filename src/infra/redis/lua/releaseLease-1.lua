--[[
  Give a lease back, if the caller still holds it (graceful shutdown).

  KEYS[1] lease key
  ARGV[1] holder id

  Returns 1 released, 0 not held by the caller.
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
