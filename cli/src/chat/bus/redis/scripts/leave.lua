-- Removes a member from its room, and publishes its leave. The room's keys
-- expire if that was its last member anywhere.
-- KEYS: names, users, history, seq, instance members.
-- ARGV: room TTL, lowercased name, name, channel, leave JSON, entry.
if redis.call('HGET', KEYS[1], ARGV[2]) == ARGV[3] then
    redis.call('HDEL', KEYS[1], ARGV[2])
end
redis.call('ZREM', KEYS[2], ARGV[3])
redis.call('SREM', KEYS[5], ARGV[6])
local seq = redis.call('INCR', KEYS[4])
settle(KEYS, ARGV[1])
redis.call('PUBLISH', ARGV[4], seq .. ' leave ' .. ARGV[5])
return seq
