-- wrk script for benches/bigthread.sh: one page of the thread asked for under a cache key
-- no request used before (or seldom: see LAST_*), so that the server builds the page from
-- the database instead of answering it from its cache. The answer is the same page each
-- time; only the key differs.
--
--   MODE=first  JSON, after=o:-N (any cursor before the first id gives the first page)
--   MODE=last   JSON, after=o:X with X random in [LAST_FROM, LAST_TO] and limit random in
--               [LAST_LIMIT, 200]: every pair gives the same last page (the ids between two
--               top-level comments are their replies'); a few pairs repeat, counted below
--   MODE=html   the URL given plus &title=tN (the fragment's cache key includes it)
-- It counts the answers' X-Afterword-Cache header and prints the hits and misses.

local b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

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

local threads = {}
local counter = 1

function setup(thread)
   thread:set("tid", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

function init(args)
   n = 0
   hits = 0
   misses = 0
   mode = os.getenv("MODE") or "first"
   last_from = tonumber(os.getenv("LAST_FROM") or "0")
   last_to = tonumber(os.getenv("LAST_TO") or "0")
   last_limit = tonumber(os.getenv("LAST_LIMIT") or "50")
   math.randomseed(os.time() + tid * 7919)
   -- Keys of this run only: an earlier phase (or run) may have cached its own.
   run = math.random(1, 1000000000)
end

function request()
   n = n + 1
   if mode == "first" then
      local cursor = base64url("o:-" .. run .. tid .. "0" .. n)
      return wrk.format("GET", wrk.path .. "&after=" .. cursor)
   elseif mode == "last" then
      local cursor = base64url("o:" .. math.random(last_from, last_to))
      local path = string.gsub(wrk.path, "&limit=%d+", "")
      return wrk.format("GET", path .. "&limit=" .. math.random(last_limit, 200) .. "&after=" .. cursor)
   else
      return wrk.format("GET", wrk.path .. "&title=t" .. run .. "-" .. tid .. "-" .. n)
   end
end

function response(status, headers, body)
   local c = headers["X-Afterword-Cache"] or headers["x-afterword-cache"]
   if c == "hit" then hits = hits + 1 else misses = misses + 1 end
end

function done(summary, latency, requests)
   local h, m = 0, 0
   for _, t in ipairs(threads) do
      h = h + (t:get("hits") or 0)
      m = m + (t:get("misses") or 0)
   end
   io.write(string.format("cache: hits=%d misses=%d\n", h, m))
end
