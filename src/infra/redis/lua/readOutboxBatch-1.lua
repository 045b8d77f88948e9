--[[
  The persister's read (read only): the oldest entries of a goods' outbox with their order
  hashes, in one round trip instead of one per order.

  KEYS[1] outbox zset
  ARGV[1] how many entries at most
  ARGV[2] order hash key prefix (the key of order X is ARGV[2] .. X; same hash tag as KEYS[1])

  Returns {entry1, hash1, entry2, hash2, …}, oldest first; each hash as HGETALL gives it
  (field, value, …). The hashes are not declared keys: an empty one (gone, or moved away by a
  cluster slot migration in progress) is read again by the caller before it is judged.
]]
local entries = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
local out = {}
for i, entry in ipairs(entries) do
  out[2 * i - 1] = entry
  out[2 * i] = redis.call('HGETALL', ARGV[2] .. entry)
end
return out
