-- wrk script for the "thread-mixed" phase of benches/load.sh: reads of one thread with a
-- comment posted to that same thread every 100th request, so the cached page keeps being
-- dropped and rebuilt, as on a post that is being discussed right now.
-- The read path (site, slug, limit) comes from the URL given to wrk; posts go to the
-- same site and slug.

local counter = 0

function init(args)
   n = 0
   tid = math.random(1, 1000000)
   post_headers = { ["Content-Type"] = "application/json" }
   -- The spam checks' form token for the thread (load.sh reads it from a thread answer).
   local token = os.getenv("AFTERWORD_FORM_TOKEN")
   form = (token and token ~= "") and string.format(',"form_token":"%s"', token) or ""
end

function request()
   n = n + 1
   if n % 100 == 0 then
      counter = counter + 1
      local body = string.format(
         '{"body":"A *new* comment while people read (%d-%d), with [a link](https://example.com/)."%s}',
         tid, n, form)
      local path = string.gsub(wrk.path, "&limit=%d+", "")
      return wrk.format("POST", path, post_headers, body)
   end
   return wrk.format("GET", wrk.path)
end
