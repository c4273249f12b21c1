-- wrk script for bench/ingest.sh: an SDK's poll of /api/client/features, flat out:
--   wrk ... URL -- AUTHORIZATION [ETAG]
-- With an ETag the server answers 304 as it does to an SDK whose copy is current.
-- done() prints one line `WRK_JSON {...}` that bench/ingest.sh reads.

function init(args)
  wrk.headers["Authorization"] = args[1]
  wrk.headers["Unleash-Client-Spec"] = "5.2.0"
  if args[2] and #args[2] > 0 then wrk.headers["If-None-Match"] = args[2] end
end

function done(summary, latency, requests)
  io.write(string.format(
    'WRK_JSON {"requests": %d, "seconds": %.3f, "non2xx": %d, "socket_errors": %d, "p50_ms": %.3f, "p99_ms": %.3f}\n',
    summary.requests, summary.duration / 1e6, summary.errors.status or 0,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
