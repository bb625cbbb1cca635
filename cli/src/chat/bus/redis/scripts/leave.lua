-- Removes a member from its room, and publishes its leave.
-- KEYS: names, users, seq, instance members.
-- ARGV: lowercased name, name, channel, leave JSON, entry.
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
    redis.call('HDEL', KEYS[1], ARGV[1])
end
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('SREM', KEYS[4], ARGV[5])
local seq = redis.call('INCR', KEYS[3])
redis.call('PUBLISH', ARGV[3], seq .. ' leave ' .. ARGV[4])
return seq
