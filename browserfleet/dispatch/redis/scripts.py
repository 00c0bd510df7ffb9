"""The Lua scripts of the Redis dispatcher: each runs atomically on the server.

Stream entries carry three fields: ``j`` (the job id), ``t`` (the ticket as JSON,
dispatch/redis/codec.py) and ``n`` (the fleet-wide submit sequence). The ``tickets`` hash maps a
job id to ``"<stream> <entry id>"`` while the ticket waits; claiming or withdrawing it removes the
mapping in the same script, so a ticket is claimed at most once and withdrawn only while nobody
has it.
"""

from __future__ import annotations

# KEYS[1] stream, KEYS[2] tickets hash, KEYS[3] set of streams, KEYS[4] sequence counter
# ARGV[1] job id, ARGV[2] ticket JSON, ARGV[3] group, ARGV[4] wake channel
# → 1 queued, 0 already waiting (a second submit of a queued job is a no-op)
SUBMIT = """
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 0 end
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('XGROUP', 'CREATE', KEYS[1], ARGV[3], '0', 'MKSTREAM')
end
local n = redis.call('INCR', KEYS[4])
local id = redis.call('XADD', KEYS[1], '*', 'j', ARGV[1], 't', ARGV[2], 'n', n)
redis.call('HSET', KEYS[2], ARGV[1], KEYS[1] .. ' ' .. id)
redis.call('SADD', KEYS[3], KEYS[1])
redis.call('PUBLISH', ARGV[4], KEYS[1])
return 1
"""

# KEYS[1..n-1] candidate streams, KEYS[n] tickets hash; ARGV[1] group, ARGV[2] consumer
# → {stream, entry id, ticket JSON, more} of the oldest waiting ticket over the candidates, or nil;
# ``more`` is 1 when another ticket still waits on a candidate stream.
# The next undelivered entry of a stream is the first one after the group's last-delivered-id;
# "oldest" compares the fleet-wide submit sequence ``n`` (entry ids are per stream).
CLAIM = """
local group = ARGV[1]
local best, best_n, waiting = nil, 0, 0
for i = 1, #KEYS - 1 do
  local key = KEYS[i]
  if redis.call('EXISTS', key) == 1 then
    local last = '0-0'
    for _, info in ipairs(redis.call('XINFO', 'GROUPS', key)) do
      local name, delivered = nil, nil
      for j = 1, #info, 2 do
        if info[j] == 'name' then name = info[j + 1] end
        if info[j] == 'last-delivered-id' then delivered = info[j + 1] end
      end
      if name == group then last = delivered end
    end
    local head = redis.call('XRANGE', key, '(' .. last, '+', 'COUNT', 1)
    if #head > 0 then
      waiting = waiting + 1
      local fields, n = head[1][2], 0
      for j = 1, #fields, 2 do
        if fields[j] == 'n' then n = tonumber(fields[j + 1]) end
      end
      if best == nil or n < best_n then best, best_n = key, n end
    end
  end
end
if best == nil then return nil end
local got = redis.call('XREADGROUP', 'GROUP', group, ARGV[2], 'COUNT', 1, 'STREAMS', best, '>')
local entry = got[1][2][1]
local fields = entry[2]
local job, ticket = nil, nil
for j = 1, #fields, 2 do
  if fields[j] == 'j' then job = fields[j + 1] end
  if fields[j] == 't' then ticket = fields[j + 1] end
end
redis.call('HDEL', KEYS[#KEYS], job)
local more = 0
if waiting > 1 or #redis.call('XRANGE', best, '(' .. entry[1], '+', 'COUNT', 1) > 0 then more = 1 end
return {best, entry[1], ticket, more}
"""

# KEYS[1] tickets hash; ARGV[1] job id → 1 removed while waiting, 0 not waiting (claimed or unknown)
WITHDRAW = """
local where = redis.call('HGET', KEYS[1], ARGV[1])
if not where then return 0 end
local space = string.find(where, ' ', 1, true)
redis.call('XDEL', string.sub(where, 1, space - 1), string.sub(where, space + 1))
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
"""

# KEYS[1] lock key; ARGV[1] token → 1 released, 0 not ours (expired and taken by someone else)
RELEASE_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS[1] sorted set of one key's request times; ARGV[1] limit, ARGV[2] window (ms), ARGV[3] member
# → {1, count} allowed and recorded, or {0, count, ms until the oldest request leaves the window}.
# Time comes from the Redis server, so every process shares one clock.
RATE_HIT = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms - window)
local count = redis.call('ZCARD', KEYS[1])
if count >= tonumber(ARGV[1]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, count, tonumber(oldest[2]) + window - now_ms}
end
redis.call('ZADD', KEYS[1], now_ms, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return {1, count + 1}
"""

# KEYS[1] stream; ARGV[1] group, ARGV[2] idle ms → consumers removed. Every process start is a new
# consumer (node-1@3fa2…); one with nothing pending and long idle is forgotten (recreated by its
# next claim, so removing a live one costs nothing).
PRUNE_CONSUMERS = """
local removed = 0
for _, info in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local name, pending, idle = nil, 0, 0
  for j = 1, #info, 2 do
    if info[j] == 'name' then name = info[j + 1] end
    if info[j] == 'pending' then pending = tonumber(info[j + 1]) end
    if info[j] == 'idle' then idle = tonumber(info[j + 1]) end
  end
  if pending == 0 and idle > tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], name)
    removed = removed + 1
  end
end
return removed
"""
