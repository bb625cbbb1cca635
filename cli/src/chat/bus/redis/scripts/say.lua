-- Publishes messages said together as one event, and keeps them in the
-- room's history.
-- KEYS: names, users, history, seq.
-- ARGV: room TTL, channel, history length, then one or more message JSONs.
local seq = redis.call('INCR', KEYS[4])
local keep = tonumber(ARGV[3])
if keep > 0 then
    for i = 4, #ARGV do redis.call('RPUSH', KEYS[3], ARGV[i]) end
    redis.call('LTRIM', KEYS[3], -keep, -1)
end
settle(KEYS, ARGV[1])
redis.call('PUBLISH', ARGV[2], seq .. ' message ' .. table.concat(ARGV, '\n', 4))
return seq
