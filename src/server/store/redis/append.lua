-- append.lua: appends events to one stream's log, atomically: the only way
-- an id is ever issued in a shared store.
--
-- KEYS[1]  the stream's mark (hash: `seq` = newest id, `tick` = Redis time
--          in ms of the newest generated event)
-- KEYS[2]  the stream's log (a Redis Stream; entry id `<seq>-0`, fields
--          `e` event type ('' = none), `d` data, `t` Redis time in ms)
-- KEYS[3]  the stream's lease (string: the leader's token)
-- KEYS[4…] one idempotency key per event that carries one, in order
-- ARGV[1]  lease token: '' for a published event; otherwise the append is
--          refused (error `FENCED`) unless KEYS[3] holds exactly this token
-- ARGV[2]  floor: the highest id the calling instance has seen of the
--          stream; when the mark is gone or below it (Redis lost its data,
--          and perhaps another instance numbered from 1 again) numbering
--          goes on ARGV[3] ids above it, never below an id a client saw.
--          With n = 0 this only raises the mark so (an instance that found
--          it below what its clients saw)
-- ARGV[3]  margin above the floor
-- ARGV[4]  events kept in the log (at least: trimmed with MAXLEN ~, which
--          drops whole nodes of the Stream and costs far less than exact)
-- ARGV[5]  the log's time to live in ms (--retention-ms), from this append
-- ARGV[6]  the mark's time to live in ms (outlives the log, so that a new
--          life of the stream numbers on above the old one)
-- ARGV[7]  the doorbell channel; ARGV[8] the stream id
-- ARGV[9]  an idempotency key's time to live in ms
-- ARGV[10] n, the number of events; then per event three values:
--          has-key ('1' or '0'), event type ('' = none), data
--
-- Returns {now_ms, seq_1, replayed_1, …, seq_n, replayed_n}: for each event
-- its id, and 1 when its idempotency key was already answered (nothing was
-- appended for it, seq is the first answer's id).
--
-- Invariant: ids of a stream only grow, each is issued once, the log holds
-- them in order, and every appended event rings the doorbell in the same
-- atomic step: PUBLISH `<seq> <id>\n<time ms> <event type>\n<data>`, so
-- that a follower that hears it has the event without reading the log,
-- and one that missed it finds it there.
local mark, log, lease = KEYS[1], KEYS[2], KEYS[3]
local token = ARGV[1]
if token ~= '' and redis.call('GET', lease) ~= token then
  return redis.error_reply('FENCED the stream is led by another instance')
end
local floor = tonumber(ARGV[2])
local margin = tonumber(ARGV[3])
local history = tonumber(ARGV[4])
local retention = tonumber(ARGV[5])
local mark_ttl = tonumber(ARGV[6])
local channel, stream = ARGV[7], ARGV[8]
local idem_ttl = tonumber(ARGV[9])
local n = tonumber(ARGV[10])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local current = tonumber(redis.call('HGET', mark, 'seq') or '0')
local seq = current
if floor > current then
  seq = floor + margin
end
local out = {now}
local next_key = 4
local appended = 0
for i = 0, n - 1 do
  local has_key = ARGV[11 + i * 3]
  local event_type = ARGV[12 + i * 3]
  local data = ARGV[13 + i * 3]
  local key = nil
  local prior = false
  if has_key == '1' then
    key = KEYS[next_key]
    next_key = next_key + 1
    prior = redis.call('GET', key)
  end
  if prior then
    out[#out + 1] = tonumber(prior)
    out[#out + 1] = 1
  else
    seq = seq + 1
    redis.call('XADD', log, 'MAXLEN', '~', history, seq .. '-0', 'e', event_type, 'd', data, 't', now)
    if key then
      redis.call('SET', key, seq, 'PX', idem_ttl)
    end
    redis.call('PUBLISH', channel, seq .. ' ' .. stream .. '\n' .. now .. ' ' .. event_type .. '\n' .. data)
    out[#out + 1] = seq
    out[#out + 1] = 0
    appended = appended + 1
  end
end
if appended > 0 or seq ~= current then
  redis.call('HSET', mark, 'seq', seq)
  if token ~= '' then
    redis.call('HSET', mark, 'tick', now)
  end
  redis.call('PEXPIRE', mark, mark_ttl)
  redis.call('PEXPIRE', log, retention)
end
return out
