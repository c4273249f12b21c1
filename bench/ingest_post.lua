-- wrk script for bench/ingest.sh: POSTs one SDK metrics report (impact metrics inside) again and
-- again, each connection waiting INTERVAL_MS between its requests, so the rate is about
-- connections × 1000 / INTERVAL_MS per second whatever the machine could do flat out:
--   wrk -c 20 ... URL -- BODY.json AUTHORIZATION INTERVAL_MS
-- done() prints one line `WRK_JSON {...}` that bench/ingest.sh reads.

local body, interval = nil, 10

function init(args)
  local f = assert(io.open(args[1], "r"))
  body = f:read("*a")
  f:close()
  interval = tonumber(args[3] or "10")
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = args[2]
end

function delay()
  return interval
end

function done(summary, latency, requests)
  local statuses = summary.errors.status or 0
  io.write(string.format(
    'WRK_JSON {"requests": %d, "seconds": %.3f, "non2xx": %d, "socket_errors": %d, "p50_ms": %.3f, "p99_ms": %.3f}\n',
    summary.requests, summary.duration / 1e6, statuses,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
