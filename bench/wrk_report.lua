-- wrk's report as one line of JSON on stdout, after wrk's own text.
-- Used by bench/servers.py: wrk -s bench/wrk_report.lua ...
-- The line starts with "WRK_JSON " so it can be told apart from wrk's output.
-- Latencies are in microseconds, as wrk measures them. WRK_METHOD in the
-- environment sets the request method (default GET).

local method = os.getenv("WRK_METHOD")
if method then
  wrk.method = method
end

done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"min": %d, "max": %d, "mean": %.1f, "stdev": %.1f, ' ..
    '"p50": %d, "p90": %d, "p99": %d}}\n',
    summary.requests, summary.duration, summary.bytes,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    latency.min, latency.max, latency.mean, latency.stdev,
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
