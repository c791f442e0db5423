-- claim.lua: makes the caller the stream's leader (its only generator), or
-- keeps it leader.
--
-- KEYS[1]  the stream's lease (string: the leader's token, expiring)
-- KEYS[2]  the stream's mark (hash; `tick` = Redis time in ms of the newest
--          generated event)
-- ARGV[1]  the caller's token; ARGV[2] the lease's time to live in ms
--
-- Returns {held, now_ms, tick_ms, expires_ms}: held is 1 when the lease is
-- (now) the caller's, with its time to live renewed; 0 when another token
-- holds it, which then expires in expires_ms unless renewed (so a waiting
-- instance tries again when it would, not on a fixed beat). tick_ms is -1
-- when the stream never had a generated event; with now_ms (both Redis
-- time) a new leader continues the cadence where the last one stopped,
-- whatever the instances' clocks say.
--
-- Invariant: at most one token holds a stream's lease at a time; a lease
-- nobody renews disappears after its time to live.
local current = redis.call('GET', KEYS[1])
local held = 0
local expires = 0
if not current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  held = 1
elseif current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  held = 1
else
  expires = redis.call('PTTL', KEYS[1])
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local tick = redis.call('HGET', KEYS[2], 'tick')
return {held, now, tonumber(tick or '-1'), expires}
