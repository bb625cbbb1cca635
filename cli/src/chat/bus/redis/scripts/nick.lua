-- Renames a member, unless another has the new name (ignoring case).
-- KEYS: names, users, seq, instance members.
-- ARGV: old lowercased, old name, new lowercased, new name,
-- channel, nick JSON, old entry, new entry.
local holder = redis.call('HGET', KEYS[1], ARGV[3])
if holder and ARGV[3] ~= ARGV[1] then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[3], ARGV[4])
local score = redis.call('ZSCORE', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[2], score or 0, ARGV[4])
redis.call('SREM', KEYS[4], ARGV[7])
redis.call('SADD', KEYS[4], ARGV[8])
local seq = redis.call('INCR', KEYS[3])
redis.call('PUBLISH', ARGV[5], seq .. ' nick ' .. ARGV[6])
return seq
