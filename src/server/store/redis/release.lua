-- release.lua: gives a stream's lease up, if the caller still holds it.
--
-- KEYS[1]  the stream's lease; ARGV[1] the caller's token
--
-- Returns 1 when the lease was the caller's and is gone, 0 otherwise (it
-- had expired, or another instance leads now: that lease is left alone).
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
