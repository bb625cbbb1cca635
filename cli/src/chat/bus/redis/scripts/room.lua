-- Prepended to every script that changes a room. A room with members, on
-- any instance, keeps its keys for good; one with none keeps them for the
-- room TTL, after which Redis drops them all. Each script ends by calling
-- `settle`, so that either way its keys are as they should be.
-- room: the room's names, users, history and seq keys, in this order
-- (more after them are ignored); ttl: the room TTL, in milliseconds.
local function settle(room, ttl)
    if redis.call('EXISTS', room[2]) == 1 then
        for i = 1, 4 do redis.call('PERSIST', room[i]) end
    else
        for i = 1, 4 do redis.call('PEXPIRE', room[i], ttl) end
    end
end

