-- Shared by the bench/lua scripts (loaded with dofile; wrk gives each thread its own Lua
-- state, so this runs once per thread and once in the main state).
--
-- Environment, set by bench/run.sh:
--   BENCH_THREADS  wrk's -t, so each thread can take its own slice of an input file
--   BENCH_RESULT   file done() writes key=value lines to

wrk.method = "POST"
wrk.headers["Authorization"] = "Basic YXBpLWNvbnN1bWVyLWlkOnBhc3N3b3Jk"
wrk.headers["fi_reference_id"] = "PSDGB-FCA-111111"
wrk.headers["version"] = "1"
wrk.headers["Content-Type"] = "application/json"

local threads = {}
local next_id = 0

-- Main state: number the threads before their init runs.
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

-- Lines id, id + n, id + 2n, ... of a file: thread id's share of it.
function load_slice(path)
  local n = tonumber(os.getenv("BENCH_THREADS") or "1")
  local lines, i = {}, 0
  local file = assert(io.open(path, "r"))
  for line in file:lines() do
    if i % n == id and line ~= "" then lines[#lines + 1] = line end
    i = i + 1
  end
  file:close()
  return lines
end

-- The request line and headers (Host included, set by wrk before init), ending where
-- Content-Length goes: building requests by concatenation keeps wrk's own CPU use low.
function request_prefix()
  local parts = { wrk.method .. " " .. wrk.path .. " HTTP/1.1\r\n" }
  for name, value in pairs(wrk.headers) do
    if name ~= "Content-Length" then parts[#parts + 1] = name .. ": " .. value .. "\r\n" end
  end
  return table.concat(parts)
end

function post(prefix, body)
  return prefix .. "Content-Length: " .. #body .. "\r\n\r\n" .. body
end

-- Defines init() and request() for an exchange script: every request carries the next
-- fresh code of thread id's slice of BENCH_INPUT, each used once, in the body that
-- body_of(code) builds. When the slice runs out, a dummy code as long as a real one (43
-- characters, so every request has the same size; it is answered 4xx) goes instead and is
-- counted in the global `exhausted`, which done() reports.
local DUMMY_CODE = string.rep("0", 43)
exhausted = 0

function exchange_with(body_of)
  local prefix, codes, next_code
  function init(args)
    codes, next_code = load_slice(os.getenv("BENCH_INPUT")), 1
    prefix = request_prefix()
  end
  function request()
    local code = codes[next_code]
    if code then
      next_code = next_code + 1
    else
      code = DUMMY_CODE
      exhausted = exhausted + 1
    end
    return post(prefix, body_of(code))
  end
end

-- Output file of thread id for recorded values (access tokens, codes), or nil.
function record_file(dir)
  if not dir or dir == "" then return nil end
  local file = assert(io.open(dir .. "/part." .. id, "w"))
  file:setvbuf("full", 65536) -- flushed when wrk exits
  return file
end

-- Main state, after the run: the figures run.sh reads. Latencies in microseconds;
-- non2xx is wrk's count of responses with status > 399; exhausted counts requests sent
-- after a thread ran out of fresh input (sent with a dummy value, so they fail).
function done(summary, latency, requests)
  local exhausted = 0
  for _, thread in ipairs(threads) do exhausted = exhausted + (thread:get("exhausted") or 0) end
  local e = summary.errors
  local out = assert(io.open(os.getenv("BENCH_RESULT"), "w"))
  out:write(string.format("requests=%d\n", summary.requests))
  out:write(string.format("duration_us=%d\n", summary.duration))
  out:write(string.format("rps=%.1f\n", summary.requests / (summary.duration / 1e6)))
  out:write(string.format("p50_us=%d\n", latency:percentile(50)))
  out:write(string.format("p99_us=%d\n", latency:percentile(99)))
  out:write(string.format("p999_us=%d\n", latency:percentile(99.9)))
  out:write(string.format("max_us=%d\n", latency.max))
  out:write(string.format("non2xx=%d\n", e.status))
  out:write(string.format("socket_errors=%d\n", e.connect + e.read + e.write + e.timeout))
  out:write(string.format("exhausted=%d\n", exhausted))
  out:close()
end
