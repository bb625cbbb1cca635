-- Puts a member back after Redis lost it, without an event.
-- KEYS: names, users, seq, instance members.
-- ARGV: lowercased name, name, entry.
redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
if not redis.call('ZSCORE', KEYS[2], ARGV[2]) then
    redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[2])
end
redis.call('SADD', KEYS[4], ARGV[3])
return 1
