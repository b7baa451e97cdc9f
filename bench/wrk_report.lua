-- wrk's done() hook for bench/run: prints one line, WRK_RESULT key=value ...,
-- that bench/run parses. Latencies are in microseconds; status counts the
-- answers that were not 2xx or 3xx, connect/read/write/timeout the socket errors.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_RESULT requests=%d duration_us=%d bytes=%d connect=%d read=%d write=%d " ..
    "status=%d timeout=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.1f\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end
