-- wrk script for GET scenarios: counts non-2xx answers and prints one JSON result line.
local threads = {}
function setup(thread) table.insert(threads, thread) end
failures = 0  -- global: done() reads it per thread
function init(args) wrk.headers["X-Clone-API-Key"] = args[1] end
function response(status, headers, body)
  if status ~= 200 then failures = failures + 1 end
end
function done(summary, latency, requests)
  local f = 0
  for _, thread in ipairs(threads) do f = f + thread:get("failures") end
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"duration_us":%d,"socket_errors":%d,"non_2xx":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    f, latency:percentile(50), latency:percentile(99), latency.max))
end
