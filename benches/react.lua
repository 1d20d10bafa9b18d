-- wrk script for the reaction-toggle phase of benches/load.sh.
--
-- Every request is POST /api/v1/reactions turning 👍 on for the post, from visitor
-- "t<thread>-v<k>" where k = floor(n / 2): each visitor asks twice, so a toggle that
-- is not idempotent would count double. done() prints one machine-readable line:
--
--   AFTERWORD_TOGGLES sent=N ok=N non200=N visitors=N statuses=200:N
--
-- visitors = distinct visitor ids sent (an upper bound on what may be stored).
-- The path (site and slug) comes from the URL given to wrk.

local threads = {}
local next_id = 1

function setup(thread)
   thread:set("tid", next_id)
   next_id = next_id + 1
   table.insert(threads, thread)
end

function init(args)
   sent = 0
   ok = 0
   non200 = 0
   statuses = {}
   headers = { ["Content-Type"] = "application/json" }
end

function request()
   local k = math.floor(sent / 2)
   sent = sent + 1
   local body = string.format('{"kind":"👍","visitor":"t%d-v%d","active":true}', tid, k)
   return wrk.format("POST", nil, headers, body)
end

function response(status, hdrs, body)
   if status == 200 then ok = ok + 1 else non200 = non200 + 1 end
   local k = tostring(status)
   statuses[k] = (statuses[k] or 0) + 1
end

function done(summary, latency, requests)
   local s, o, e, v = 0, 0, 0, 0
   local all = {}
   for _, t in ipairs(threads) do
      local ts = t:get("sent") or 0
      s = s + ts
      v = v + math.floor((ts + 1) / 2)
      o = o + (t:get("ok") or 0)
      e = e + (t:get("non200") or 0)
      for k, n in pairs(t:get("statuses") or {}) do all[k] = (all[k] or 0) + n end
   end
   local parts = {}
   for k, n in pairs(all) do table.insert(parts, k .. ":" .. n) end
   table.sort(parts)
   local st = table.concat(parts, ",")
   if st == "" then st = "none" end
   io.write(string.format("AFTERWORD_TOGGLES sent=%d ok=%d non200=%d visitors=%d statuses=%s\n",
                          s, o, e, v, st))
end
