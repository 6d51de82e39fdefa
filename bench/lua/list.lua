-- POST the list body for a random tenant per request.
--   wrk ... -s bench/lua/list.lua URL -- TENANTS_FILE [BODY] [QUERY]
-- TENANTS_FILE: lines "api_key<TAB>namespace_id<TAB>bucket_id" (one line = always that tenant).
-- No response() hook: wrk then skips handing bodies to Lua. done() prints one JSON line.
local requests, count = {}, 0

function init(args)
  local file, body, query = args[1], args[2] or "{}", args[3] or "limit=10"
  -- every thread gets its own Lua state: seed each differently
  local address = tonumber(tostring({}):match("0x(%x+)") or "0", 16)
  math.randomseed(os.time() + address % 1000003)
  for line in io.lines(file) do
    local key, namespace, bucket = line:match("^(%S+)\t(%S+)\t(%S+)$")
    if key then
      count = count + 1
      requests[count] = wrk.format("POST", "/v1/buckets/" .. bucket .. "/syncs/list?" .. query, {
        ["Authorization"] = "Bearer " .. key,
        ["X-Namespace"] = namespace,
        ["Content-Type"] = "application/json",
      }, body)
    end
  end
  assert(count > 0, "no tenants in " .. file)
end

function request()
  return requests[math.random(count)]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"errors_connect":%d,' ..
    '"errors_read":%d,"errors_write":%d,"errors_status":%d,"errors_timeout":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end
