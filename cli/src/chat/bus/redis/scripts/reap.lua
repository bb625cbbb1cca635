-- Reaps a dead instance, unless another instance already has: each of its
-- members leaves its room's names and users, and its leave is published.
-- Returns how many members it had.
-- KEYS: the instance set, the dead instance's member set.
-- ARGV: its id, the key prefix.
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then return 0 end
local entries = redis.call('SMEMBERS', KEYS[2])
for _, entry in ipairs(entries) do
    local room, lower, name, leave =
        string.match(entry, '^([^\n]*)\n([^\n]*)\n([^\n]*)\n(.*)$')
    if room then
        local at = ARGV[2] .. 'room:' .. room
        if redis.call('HGET', at .. ':names', lower) == name then
            redis.call('HDEL', at .. ':names', lower)
        end
        redis.call('ZREM', at .. ':users', name)
        local seq = redis.call('INCR', at .. ':seq')
        redis.call('PUBLISH', at, seq .. ' leave ' .. leave)
    end
end
redis.call('DEL', KEYS[2])
return #entries
