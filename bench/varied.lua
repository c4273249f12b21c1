-- wrk script for the endpoints that evaluate a context: POSTs the lines of a JSONL file in turn,
-- so every request carries a different context, and optionally appends flag keys from a list to
-- the path (OFREP single). Used by bench/run.sh:
--   wrk ... URL -- BODIES.jsonl AUTHORIZATION [KEYS.txt]
-- done() prints one line `WRK_JSON {...}` that bench/summarize.py reads.

local bodies, keys = {}, nil
local counter = 0
local threads = 0

function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

local function lines(path)
  local out = {}
  for line in io.lines(path) do
    if #line > 0 then out[#out + 1] = line end
  end
  return out
end

function init(args)
  bodies = lines(args[1])
  if args[3] then keys = lines(args[3]) end
  -- Threads start at different places in the file.
  counter = (id or 0) * 4999
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = args[2]
end

function request()
  counter = counter + 1
  local body = bodies[(counter % #bodies) + 1]
  local path = wrk.path
  if keys then path = path .. keys[(counter % #keys) + 1] end
  return wrk.format(nil, path, nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p99_us":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
