-- Joins a member under its name, unless another has it (ignoring case):
-- returns its join's sequence number, the room's users and its history.
-- KEYS: names, users, history, seq, instance members.
-- ARGV: room TTL, lowercased name, name, channel, join JSON, member entry.
if redis.call('HSETNX', KEYS[1], ARGV[2], ARGV[3]) == 0 then return false end
local seq = redis.call('INCR', KEYS[4])
redis.call('ZADD', KEYS[2], seq, ARGV[3])
redis.call('SADD', KEYS[5], ARGV[6])
settle(KEYS, ARGV[1])
local users = redis.call('ZRANGE', KEYS[2], 0, -1)
local history = redis.call('LRANGE', KEYS[3], 0, -1)
redis.call('PUBLISH', ARGV[4], seq .. ' join ' .. ARGV[5])
return {seq, users, history}
