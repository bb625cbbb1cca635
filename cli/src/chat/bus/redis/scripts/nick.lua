-- Renames a member, unless another has the new name (ignoring case).
-- KEYS: names, users, history, seq, instance members.
-- ARGV: room TTL, old lowercased, old name, new lowercased, new name,
-- channel, nick JSON, old entry, new entry.
local holder = redis.call('HGET', KEYS[1], ARGV[4])
if holder and ARGV[4] ~= ARGV[2] then return false end
redis.call('HDEL', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[1], ARGV[4], ARGV[5])
local score = redis.call('ZSCORE', KEYS[2], ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[2], score or 0, ARGV[5])
redis.call('SREM', KEYS[5], ARGV[8])
redis.call('SADD', KEYS[5], ARGV[9])
local seq = redis.call('INCR', KEYS[4])
settle(KEYS, ARGV[1])
redis.call('PUBLISH', ARGV[6], seq .. ' nick ' .. ARGV[7])
return seq
