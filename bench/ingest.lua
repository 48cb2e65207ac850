-- wrk script: POST batches of realistic, fresh events to /api/recording/events/.
-- Args (after --): mode (new|dup) batch_size run_id sessions api_key
-- Run with one connection per thread: each connection keeps `sessions` sessions open, opened by
-- session.started, gets ~40 events of mixed types, and is closed by session.stopped.
local threads = {}
local thread_counter = 0

function setup(thread)
  thread_counter = thread_counter + 1
  thread:set("tid", thread_counter)
  table.insert(threads, thread)
end

local mode, batch_size, run_id, slots, key
counter, sent, accepted, duplicates, invalid, failures = 0, 0, 0, 0, 0, 0  -- globals: done() reads them
local slot_session, slot_events = {}, {}
local next_slot = 1
local SESSION_LENGTH = 40
local prebuilt, prebuilt_next = {}, 1

-- Text with Unicode, quotes, backslashes and newlines, already JSON-escaped.
local PROSE = "Refactor the parser: \\\"quoted\\\" names, caf\\u00e9 na\\u00efve \\u65e5\\u672c\\u8a9e \\ud83d\\ude00 emoji,\\npaths like C:\\\\tmp\\\\x and a tab\\there. "
local function prose(n)
  return string.rep(PROSE, n)
end

local function stamp()
  local s = counter % 86400
  return string.format("2026-05-05T%02d:%02d:%02dZ", math.floor(s / 3600), math.floor(s / 60) % 60, s % 60)
end

local function envelope(id, sid, type_, source)
  return '{"id":"' .. id .. '","session_id":"' .. sid .. '","occurred_at":"' .. stamp() ..
    '","source":"' .. source .. '","type":"' .. type_ .. '"'
end

-- Built once: only the envelope differs from one event to the next, so the generator stays cheap.
local BODIES = {
  {',"agent":"Claude Code","model":"claude-sonnet","prompt":"' .. prose(6) .. '"}', "agent.prompt", "agent"},
  {',"agent":"Claude Code","response":"' .. prose(6) .. '","usage":{"input_tokens":1200,"output_tokens":85}}', "agent.response", "agent"},
  {',"agent":"Codex","tool":"Bash","call_id":"c1","input":{"command":"pytest -q tests/","timeout":120,"env":{"CI":"1"},"note":"' .. prose(5) .. '"}}', "agent.tool_call", "agent"},
  {',"agent":"Codex","tool":"Bash","call_id":"c1","output":"' .. prose(6) .. '","is_error":false,"duration_ms":1840.5}', "agent.tool_result", "agent"},
  {',"command":"git status --short","cwd":"/home/dev/app","exit_code":0,"duration_ms":35,"output":"' .. prose(6) .. '"}', "command.executed", "terminal"},
  {',"path":"src/parser.py","change":"modified","diff":"@@ -1,3 +1,3 @@\\n-x = 1\\n+x = 2\\n' .. prose(6) .. '"}', "file.changed", "ide"},
  {',"text":"' .. prose(6) .. '","attributes":{"tags":["review","\\u2713"]}}', "note", "desktop"},
}

-- Returns the event as two strings (envelope, rest): build_batch joins all of them once,
-- instead of making a new ~1 KB string per event.
local function next_event()
  counter = counter + 1
  local id = run_id .. "-" .. tid .. "-" .. counter
  local slot = next_slot
  next_slot = next_slot % slots + 1
  if slot_session[slot] and slot_events[slot] >= SESSION_LENGTH then
    local closing = slot_session[slot]
    slot_session[slot] = nil
    return envelope(id, closing, "session.stopped", "cli"), ',"reason":"done","exit_code":0}'
  end
  if not slot_session[slot] then
    slot_session[slot] = run_id .. "-s" .. tid .. "-" .. slot .. "-" .. counter
    slot_events[slot] = 0
    return envelope(id, slot_session[slot], "session.started", "cli"),
      ',"title":"Session \\u2116' .. counter .. '","cwd":"/home/dev/app","repository":{"url":"https://git.example/app.git","branch":"main","commit":"9f1c2ab"}}'
  end
  slot_events[slot] = slot_events[slot] + 1
  local kind = BODIES[counter % #BODIES + 1]
  return envelope(id, slot_session[slot], kind[2], kind[3]), kind[1]
end

local function build_batch()
  local parts = {"["}
  for i = 1, batch_size do
    local head, rest = next_event()
    parts[#parts + 1] = i == 1 and head or "," .. head
    parts[#parts + 1] = rest
  end
  parts[#parts + 1] = "]"
  return table.concat(parts)
end

function init(args)
  mode, batch_size, run_id, slots, key = args[1], tonumber(args[2]), args[3], tonumber(args[4]), args[5]
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-Clone-API-Key"] = key
  if mode == "dup" then
    for i = 1, 4 do prebuilt[i] = build_batch() end  -- few enough for the warm-up to store all
  end
end

function request()
  local body
  if mode == "dup" then
    body = prebuilt[prebuilt_next]
    prebuilt_next = prebuilt_next % #prebuilt + 1
  else
    body = build_batch()
  end
  sent = sent + batch_size
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status == 200 or status == 201 then
    accepted = accepted + tonumber(body:match('"accepted":(%d+)'))
    duplicates = duplicates + tonumber(body:match('"duplicates":(%d+)'))
    if not body:find('"invalid":%[%]') then invalid = invalid + 1 end
  else
    failures = failures + 1
  end
end

function done(summary, latency, requests)
  local a, d, inv, f, s = 0, 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    s = s + thread:get("sent")
    a = a + thread:get("accepted")
    d = d + thread:get("duplicates")
    inv = inv + thread:get("invalid")
    f = f + thread:get("failures")
  end
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"duration_us":%d,"socket_errors":%d,"non_2xx":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,"sent":%d,"accepted":%d,"duplicates":%d,"batches_with_invalid":%d}\n',
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    f, latency:percentile(50), latency:percentile(99), latency.max, s, a, d, inv))
end
