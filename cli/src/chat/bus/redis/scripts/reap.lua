-- Reaps a dead instance, unless another instance already has: each of its
-- members leaves its room's names and users, and its leave is published;
-- a room left with no members anywhere expires. Returns how many members
-- it had.
-- KEYS: the instance set, the dead instance's member set.
-- ARGV: room TTL, its id, the key prefix.
if redis.call('SREM', KEYS[1], ARGV[2]) == 0 then return 0 end
local entries = redis.call('SMEMBERS', KEYS[2])
for _, entry in ipairs(entries) do
    local room, lower, name, leave =
        string.match(entry, '^([^\n]*)\n([^\n]*)\n([^\n]*)\n(.*)$')
    if room then
        local at = ARGV[3] .. 'room:' .. room
        local keys = {at .. ':names', at .. ':users', at .. ':history', at .. ':seq'}
        if redis.call('HGET', keys[1], lower) == name then
            redis.call('HDEL', keys[1], lower)
        end
        redis.call('ZREM', keys[2], name)
        local seq = redis.call('INCR', keys[4])
        settle(keys, ARGV[1])
        redis.call('PUBLISH', at, seq .. ' leave ' .. leave)
    end
end
redis.call('DEL', KEYS[2])
return #entries
