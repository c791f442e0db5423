-- release.lua: gives a stream's lease up, if the caller still holds it.
--
-- KEYS[1]  the stream's lease; ARGV[1] the caller's token
-- ARGV[2]  the doorbell channel; ARGV[3] the stream id
--
-- Returns 1 when the lease was the caller's and is gone (and `free <id>`
-- is announced, so that an instance waiting for it claims it at once), 0
-- otherwise (it had expired, or another instance leads now: that lease is
-- left alone).
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], 'free ' .. ARGV[3])
  return 1
end
return 0
