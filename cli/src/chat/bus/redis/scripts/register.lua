-- Puts a member back after Redis lost it, without an event.
-- KEYS: names, users, history, seq, instance members.
-- ARGV: room TTL, lowercased name, name, entry.
redis.call('HSETNX', KEYS[1], ARGV[2], ARGV[3])
if not redis.call('ZSCORE', KEYS[2], ARGV[3]) then
    redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[4]), ARGV[3])
end
redis.call('SADD', KEYS[5], ARGV[4])
settle(KEYS, ARGV[1])
return 1
