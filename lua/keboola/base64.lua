-- keboola/base64.lua - standard base64 (RFC 4648, with padding), used for
-- Azure block ids. Pure Lua; inputs are short strings.
local M = {}

local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

function M.encode(s)
    local out = {}
    for i = 1, #s, 3 do
        local a, b, c = s:byte(i, i + 2)
        local n = (a << 16) | ((b or 0) << 8) | (c or 0)
        local chars = {}
        for shift = 18, 0, -6 do
            local idx = (n >> shift) & 63
            chars[#chars + 1] = alphabet:sub(idx + 1, idx + 1)
        end
        if not b then chars[3], chars[4] = "=", "="
        elseif not c then chars[4] = "=" end
        out[#out + 1] = table.concat(chars)
    end
    return table.concat(out)
end

local index = {}
for i = 1, #alphabet do index[alphabet:sub(i, i)] = i - 1 end

-- Returns nil for input that is not base64.
function M.decode(s)
    s = s:gsub("%s", "")
    if #s % 4 ~= 0 then return nil end
    local out = {}
    for i = 1, #s, 4 do
        local quad, pad = s:sub(i, i + 3), 0
        local n = 0
        for j = 1, 4 do
            local ch = quad:sub(j, j)
            local v
            if ch == "=" then pad = pad + 1; v = 0 else v = index[ch] end
            if v == nil then return nil end
            n = (n << 6) | v
        end
        local bytes = string.char((n >> 16) & 255, (n >> 8) & 255, n & 255)
        out[#out + 1] = bytes:sub(1, 3 - pad)
    end
    return table.concat(out)
end

return M
