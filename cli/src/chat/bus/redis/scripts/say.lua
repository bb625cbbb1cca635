-- Publishes messages said together as one event, and keeps them in the
-- room's history.
-- KEYS: seq, history.
-- ARGV: channel, history length, then one or more message JSONs.
local seq = redis.call('INCR', KEYS[1])
local keep = tonumber(ARGV[2])
if keep > 0 then
    for i = 3, #ARGV do redis.call('RPUSH', KEYS[2], ARGV[i]) end
    redis.call('LTRIM', KEYS[2], -keep, -1)
end
redis.call('PUBLISH', ARGV[1], seq .. ' message ' .. table.concat(ARGV, '\n', 3))
return seq
