-- wrk script for the "churn" phase of benches/load.sh: every request asks for something
-- never asked before (an unknown thread, the counts of an unknown slug, a page of the hot
-- thread after a cursor nobody uses, with a random limit), and one request in ten reads
-- the hot thread as readers do. Memory must stay bounded and the hot thread cached.
-- The hot thread's read path comes from the URL given to wrk.

local b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

-- base64url without padding, as the server's cursors are written.
local function base64url(s)
   local out = {}
   for i = 1, #s, 3 do
      local a, b, c = s:byte(i, i + 2)
      local n = a * 65536 + (b or 0) * 256 + (c or 0)
      local chars = 2 + (b and 1 or 0) + (c and 1 or 0)
      for k = 1, chars do
         local idx = math.floor(n / 2 ^ (6 * (4 - k))) % 64
         out[#out + 1] = b64:sub(idx + 1, idx + 1)
      end
   end
   return table.concat(out)
end

function init(args)
   n = 0
   tid = math.random(1, 1000000000)
   site = wrk.path:match("site=([^&]+)")
   hot = string.gsub(wrk.path, "&limit=%d+", "")
end

function request()
   n = n + 1
   local kind = n % 10
   local key = tid .. "-" .. n
   if kind == 0 then
      return wrk.format("GET", wrk.path)
   elseif kind <= 3 then
      return wrk.format("GET", "/api/v1/comments?site=" .. site .. "&slug=%2Fchurn%2F" .. key .. "%2F")
   elseif kind <= 6 then
      return wrk.format("GET", "/api/v1/counts?site=" .. site .. "&slug=%2Fchurn%2Fc" .. key .. "%2F")
   else
      local cursor = base64url("o:" .. (tid % 100000) * 10000 + n)
      return wrk.format("GET", hot .. "&limit=" .. (1 + n % 200) .. "&after=" .. cursor)
   end
end
