-- The benchmark's requests, for wrk (run by scripts/bench/load.ts): wrk is C and costs far less CPU per
-- request than any server here, so what the servers' figures show is the servers.
-- Arguments (after wrk's `--`): METHOD PATH [FIRST LAST ORDER [BODY [UNIQUE]]]. A `{id}` in PATH is replaced
-- per request by an id from FIRST to LAST, at random (ORDER `random`) or each once in turn (`sequence`, for
-- deletes); BODY, when not empty, is sent as JSON; the header named UNIQUE, when given, gets a value no other
-- request of any run has (an Idempotency-Key). Without ids, PATH may be several paths, one a line, sent each in turn
-- (the search scenario's mix of queries). The summary is one JSON line on stdout.

local method, path, last, order, body, unique, prefix
local paths = {}
local sent = 0
local headers = {}
-- Globals, not locals: done() reads them from each thread with thread:get.
firstId, nextId = nil, nil
-- wrk's own, filled in setup(): done() reads each thread's state through them.
local threads = {}

function setup (thread)
  table.insert(threads, thread)
end

function init (args)
  method, path = args[1], args[2]
  firstId, last, order, body, unique = tonumber(args[3]), tonumber(args[4]), args[5], args[6], args[7]
  if body == '' then body = nil end
  -- wrk.headers holds Host and any -H header (ours-jwt's token): the requests built per id carry them too.
  for name, value in pairs(wrk.headers) do headers[name] = value end
  if body ~= nil then headers['Content-Type'] = 'application/json' end
  nextId = firstId
  -- math.random is seeded alike in every run otherwise; a run's ids need not repeat the last run's.
  math.randomseed(os.time())
  prefix = string.format('bench-%d-%d-', os.time(), math.random(1, 1000000000))
  for line in string.gmatch(path, '[^\n]+') do table.insert(paths, line) end
  if firstId == nil and #paths == 1 then
    -- A fixed request: wrk builds it once and sends the same bytes every time, no Lua per request.
    wrk.method, wrk.path, wrk.body = method, path, body
    -- Added to, not replaced: wrk.headers already holds the Host header.
    for name, value in pairs(headers) do wrk.headers[name] = value end
    request = nil
  end
end

function request ()
  if firstId == nil then
    sent = sent + 1
    return wrk.format(method, paths[(sent - 1) % #paths + 1], headers, body)
  end
  local id
  if order == 'sequence' then
    id = nextId
    nextId = nextId + 1
  else
    id = math.random(firstId, last)
  end
  if unique ~= nil then
    sent = sent + 1
    headers[unique] = prefix .. sent
  end
  return wrk.format(method, (path:gsub('{id}', id)), headers, body)
end

function done (summary, latency)
  local issued = 0
  for _, thread in ipairs(threads) do
    local started, ended = thread:get('firstId'), thread:get('nextId')
    if started ~= nil and ended ~= nil then issued = issued + (ended - started) end
  end
  local errors = summary.errors
  io.write(string.format(
    '{"requests":%d,"durationUs":%d,"p50Us":%.0f,"p99Us":%.0f,"connectErrors":%d,"readErrors":%d,"writeErrors":%d,"timeouts":%d,"statusErrors":%d,"issued":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    errors.connect, errors.read, errors.write, errors.timeout, errors.status, issued))
end
