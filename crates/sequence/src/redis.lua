-- The Redis backend's one script: every operation runs here, so each is atomic (Redis runs
-- a script without interleaving other commands) and holds across replicas.
--
-- KEYS: 1 index, 2 initialisation marker, 3 idempotency records (hash key -> answer),
--       4 idempotency order (sorted set key -> first use, ms)
-- ARGV: 1 operation (init, current, next, previous, reset), 2 cap of this `next`,
--       3 largest valid stored index, 4 idempotency key ('' for none), 5 retention window
--       (ms), 6 retention count, 7 marker value to write (init, reset)
-- Returns {status, value}:
--   {'ok', index} moved (or current); {'end', index} / {'start', 0} conflicts;
--   {'replay', 'step:status:index'} the recorded answer of a known key;
--   {'invalid', raw} stored index outside 0..=ARGV[3]; {'lost', ''} marker missing;
--   {'initialised', raw-or-''} / {'present', ''} for init.
local index_key, marker_key, records_key, order_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local op = ARGV[1]
local step_max = tonumber(ARGV[2])
local valid_max = tonumber(ARGV[3])
local key = ARGV[4]
local window_ms = tonumber(ARGV[5])
local capacity = tonumber(ARGV[6])

if op == 'init' then
  -- Only a store that has never been initialised gets a marker here; once a process has
  -- seen the marker, its absence means the data was lost (see 'lost' below).
  if redis.call('SET', marker_key, ARGV[7], 'NX') then
    return {'initialised', redis.call('GET', index_key) or ''}
  end
  return {'present', ''}
end

if op ~= 'reset' and redis.call('EXISTS', marker_key) == 0 then
  return {'lost', ''}
end

local now
if key ~= '' then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  -- Forget expired keys, a bounded number per call (the count cap bounds the rest).
  local expired = redis.call('ZRANGEBYSCORE', order_key, '-inf', now - window_ms, 'LIMIT', 0, 100)
  if #expired > 0 then
    redis.call('HDEL', records_key, unpack(expired))
    redis.call('ZREM', order_key, unpack(expired))
  end
  local record = redis.call('HGET', records_key, key)
  if record then
    return {'replay', record}
  end
end

-- Bounds on both sides: anything but an integer in 0..=valid_max is refused, not stepped.
-- (A reset does not read the index: it is the operator's way out of a bad value.)
local index = 0
if op ~= 'reset' then
  local raw = redis.call('GET', index_key)
  if raw then
    index = tonumber(raw)
    if not index or index ~= math.floor(index) or index < 0 or index > valid_max then
      return {'invalid', raw}
    end
  end
end

local status = 'ok'
if op == 'current' then
  return {status, string.format('%d', index)}
elseif op == 'next' then
  if index >= step_max then
    status = 'end'
  else
    index = redis.call('INCR', index_key)
  end
elseif op == 'previous' then
  if index <= 0 then
    status = 'start'
  else
    index = redis.call('DECR', index_key)
  end
elseif op == 'reset' then
  redis.call('SET', index_key, 0)
  redis.call('SET', marker_key, ARGV[7])
  index = 0
else
  return redis.error_reply('unknown operation ' .. op)
end

if key ~= '' and capacity > 0 then
  redis.call('HSET', records_key, key, op .. ':' .. status .. ':' .. string.format('%d', index))
  redis.call('ZADD', order_key, now, key)
  local excess = redis.call('ZCARD', order_key) - capacity
  if excess > 0 then
    local oldest = redis.call('ZPOPMIN', order_key, excess)
    for i = 1, #oldest, 2 do
      redis.call('HDEL', records_key, oldest[i])
    end
  end
end
return {status, string.format('%d', index)}
