"""The Lua side of the sandbox, run once in every fresh state before the guest's chunk.

It is kept as a Python string (not a ``.lua`` file) so it ships without package-data rules.
The chunk receives the host's callbacks, captures every library function it needs as a local
(so nothing the guest later replaces can change how the host encodes results or enforces limits),
and returns ``build(fuel_count)``, which makes the guest environment: an allow-listed table, never
the real global table. The guest never sees a Python object: every callback is wrapped in a Lua
closure whose upvalues it cannot reach (``debug`` is absent).
"""

PRELUDE = r"""
local py_out, py_log, py_call, py_tick, py_die = ...

local type, tostring, tonumber, select, next, error = type, tostring, tonumber, select, next, error
local rawget, rawset, rawlen, rawequal = rawget, rawset, rawlen, rawequal
local setmetatable, raw_getmetatable = setmetatable, debug.getmetatable
local raw_pcall, raw_load, raw_collectgarbage = pcall, load, collectgarbage
local string_format, string_gsub, string_find, string_char = string.format, string.gsub, string.find, string.char
local string_match, string_byte, string_sub = string.match, string.byte, string.sub
local table_concat, table_sort = table.concat, table.sort
local math_type, math_huge = math.type, math.huge
local utf8_len, utf8_char = utf8.len, utf8.char
local co_create, co_wrap, co_resume, co_close = coroutine.create, coroutine.wrap, coroutine.resume, coroutine.close
local co_status, co_running, co_isyieldable, co_yield = coroutine.status, coroutine.running,
  coroutine.isyieldable, coroutine.yield
local sethook = debug.sethook
local main_thread = co_running()

-- The allocator's refusal surfaces as this exact error value. Seeing it at any point where Lua code
-- could catch an error ends the run through the host, so a pcall cannot turn the memory limit off.
local MEM = "not enough memory"

local function die_memory()
  py_die("memory")
  error(MEM, 0)  -- only reached if the host could not end the run: keep unwinding
end

local function checked(ok, ...)
  if not ok and (...) == MEM then die_memory() end
  return ok, ...
end

-- Protected calls (pcall, xpcall, coroutine.wrap, the run itself) run the function in a coroutine of
-- their own. A coroutine that fails is not unwound until it is closed, so the error seen here is the
-- original one, before any __close handler (a `<close>` variable, a generic for's closing value) could
-- replace it: the allocator's refusal ends the run at this point, whatever the guest wrote. Any other
-- error closes the coroutine (running its __close handlers, as pcall does) and is returned.
local stands_for = setmetatable({}, {__mode = "k"})  -- protecting coroutine -> the thread it stands for

local function logical(co)
  while stands_for[co] do co = stands_for[co] end
  return co
end

local function closed_error(co, err)
  if err == MEM then die_memory() end
  local closed, replaced = co_close(co)
  if not closed and replaced ~= nil then err = replaced end
  if err == MEM then die_memory() end
  return err
end

local function protected_end(co, ok, ...)
  if ok then
    if co_status(co) == "dead" then return true, ... end
    -- the function yielded: the yield goes on to whoever resumed this thread, as pcall lets it
    if logical(co_running()) ~= main_thread and co_isyieldable() then
      return protected_end(co, co_resume(co, co_yield(...)))
    end
    return false, closed_error(co, "attempt to yield from outside a coroutine")
  end
  return false, closed_error(co, (...))
end

local function protected(hooked, f, ...)
  if type(f) ~= "function" then  -- a callable table, or the error of calling a non-function
    local target = f
    f = function(...) return target(...) end
  end
  local co = co_create(hooked(f))
  stands_for[co] = co_running()
  return protected_end(co, co_resume(co, ...))
end

-- JSON ------------------------------------------------------------------------------------------

local array_mt = setmetatable({}, {__metatable = false})
local null = setmetatable({}, {
  __metatable = "json.null",
  __tostring = function() return "null" end,
  __newindex = function() error("json.null is read-only", 2) end,
})

local escapes = {['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
                 ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t', ['\127'] = '\\u007f'}
for i = 0, 31 do
  local c = string_char(i)
  if not escapes[c] then escapes[c] = string_format('\\u%04x', i) end
end

local MAX_DEPTH = 500

local function path_text(path, n)
  local parts = {"$"}
  for i = 1, n do
    local key = path[i]
    if n > 12 and i > 5 and i <= n - 5 then  -- a deep path keeps its ends: one line, not kilobytes
      if i == 6 then parts[#parts + 1] = "..." end
    elseif type(key) == "number" then
      parts[#parts + 1] = "[" .. tostring(key) .. "]"
    elseif string_find(key, "^[%a_][%w_]*$") then
      parts[#parts + 1] = "." .. key
    else
      parts[#parts + 1] = "[" .. string_format("%q", key) .. "]"
    end
  end
  return table_concat(parts)
end

local function number_text(x)
  if math_type(x) == "integer" then return string_format("%d", x) end
  if x ~= x or x == math_huge or x == -math_huge then return nil end
  local s
  for precision = 15, 17 do  -- the shortest form that reads back as the same float
    s = string_format("%." .. precision .. "g", x)
    if tonumber(s) == x then break end
  end
  if not string_find(s, "[%.eEn]") then s = s .. ".0" end  -- a float stays a float
  return s
end

local function encoder(label)
  local buf, n, path, depth, seen

  local function fail(what)
    error(label .. ": " .. path_text(path, depth) .. " " .. what, 0)
  end

  local function string_text(s)
    if not utf8_len(s) then fail("is a string that is not valid UTF-8") end
    return '"' .. string_gsub(s, '[%c"\\]', escapes) .. '"'
  end

  local encode_value

  local function encode_table(t)
    if seen[t] then fail("is a table that contains itself") end
    if depth >= MAX_DEPTH then fail("is nested more than " .. MAX_DEPTH .. " levels deep") end
    seen[t] = true
    local count, max, array = 0, 0, true
    for k in next, t do
      count = count + 1
      if array then
        if math_type(k) == "integer" and k >= 1 then
          if k > max then max = k end
        else
          array = false
        end
      end
    end
    if count == 0 then
      n = n + 1; buf[n] = raw_getmetatable(t) == array_mt and "[]" or "{}"
    elseif array and max == count then
      n = n + 1; buf[n] = "["
      for i = 1, max do
        if i > 1 then n = n + 1; buf[n] = "," end
        depth = depth + 1; path[depth] = i
        encode_value(rawget(t, i))
        depth = depth - 1
      end
      n = n + 1; buf[n] = "]"
    else
      local keys, names = {}, {}
      for k in next, t do
        local kt, name = type(k), nil
        if kt == "string" then
          name = k
        elseif kt == "number" then
          name = number_text(k)
        end
        if name == nil then
          -- never tostring a table key: its __tostring is guest code, and this may run in a raw pcall
          depth = depth + 1; path[depth] = kt == "boolean" and tostring(k) or "<" .. kt .. ">"
          fail("has a key of type " .. kt .. " (JSON keys are strings)")
        end
        keys[#keys + 1] = name
        names[name] = k
      end
      table_sort(keys)
      n = n + 1; buf[n] = "{"
      for i = 1, #keys do
        local name = keys[i]
        if i > 1 then n = n + 1; buf[n] = "," end
        depth = depth + 1; path[depth] = name
        n = n + 1; buf[n] = string_text(name)
        n = n + 1; buf[n] = ":"
        encode_value(rawget(t, names[name]))
        depth = depth - 1
      end
      n = n + 1; buf[n] = "}"
    end
    seen[t] = nil
  end

  encode_value = function(v)
    local vt = type(v)
    if vt == "string" then
      n = n + 1; buf[n] = string_text(v)
    elseif vt == "number" then
      local s = number_text(v)
      if not s then fail("is " .. tostring(v) .. ", which JSON cannot represent") end
      n = n + 1; buf[n] = s
    elseif vt == "boolean" then
      n = n + 1; buf[n] = v and "true" or "false"
    elseif vt == "nil" or rawequal(v, null) then
      n = n + 1; buf[n] = "null"
    elseif vt == "table" then
      encode_table(v)
    else
      fail("is a " .. vt .. ", which JSON cannot represent")
    end
  end

  return function(value)
    buf, n, path, depth, seen = {}, 0, {}, 0, {}
    encode_value(value)
    local text = table_concat(buf, "", 1, n)
    buf, path, seen = nil, nil, nil
    return text
  end
end

local encode_result = encoder("the result is not JSON")
local encode_guest = encoder("json.encode")
local encode_payload = encoder("call: the payload is not JSON")
local encode_log = encoder("log")

local function mark_array(t)
  return setmetatable(t, array_mt)
end

-- JSON text to Lua values, in Lua: the input, plugin replies and json.decode are converted under the
-- run's memory limit, deadline and fuel, never by the host with the allocator unlimited.
local DECODE_DEPTH = 1000
local unescape = {[34] = '"', [92] = "\\", [47] = "/", [98] = "\b", [102] = "\f", [110] = "\n", [114] = "\r",
                  [116] = "\t"}
local STRING_STOP = '["\\\0-\31]'

local function decode_json(text, label)
  local pos, depth = 1, 0

  local function fail(what)
    error(label .. ": " .. what .. " at byte " .. pos, 0)
  end

  local function skip()  -- most JSON has no whitespace between tokens: look at one byte first
    local c = string_byte(text, pos)
    if c == 32 or c == 10 or c == 13 or c == 9 then
      pos = string_find(text, "[^ \t\r\n]", pos) or #text + 1
    end
  end

  local function decode_string()
    local start, parts, n = pos + 1, nil, 0
    while true do
      local stop = string_find(text, STRING_STOP, start)
      if not stop then pos = #text + 1 fail("unterminated string") end
      local c = string_byte(text, stop)
      if c == 34 then
        pos = stop + 1
        if not parts then return string_sub(text, start, stop - 1) end
        n = n + 1; parts[n] = string_sub(text, start, stop - 1)
        return table_concat(parts, "", 1, n)
      elseif c == 92 then
        parts = parts or {}
        n = n + 1; parts[n] = string_sub(text, start, stop - 1)
        local e = string_byte(text, stop + 1)
        if e == 117 then
          local hex = string_match(text, "^%x%x%x%x", stop + 2)
          if not hex then pos = stop fail("invalid \\u escape") end
          local code, after = tonumber(hex, 16), stop + 6
          if code >= 0xD800 and code <= 0xDBFF then
            local low = string_match(text, "^\\u([dD][c-fC-F]%x%x)", after)
            if low then
              code = 0x10000 + (code - 0xD800) * 0x400 + (tonumber(low, 16) - 0xDC00)
              after = after + 6
            end
          end
          n = n + 1; parts[n] = utf8_char(code)  -- a lone surrogate is kept, as WTF-8
          start = after
        else
          local r = unescape[e]
          if not r then pos = stop fail("invalid escape") end
          n = n + 1; parts[n] = r
          start = stop + 2
        end
      else
        pos = stop
        fail("control character in a string")
      end
    end
  end

  local function decode_number()
    local start = pos
    local s, e = string_find(text, "^-?0", pos)
    if not s then s, e = string_find(text, "^-?[1-9]%d*", pos) end
    if not s then fail("expected a value") end
    pos = e + 1
    local integer = true
    if string_byte(text, pos) == 46 then
      s, e = string_find(text, "^%.%d+", pos)
      if not s then fail("expected digits after the decimal point") end
      pos, integer = e + 1, false
    end
    local x = string_byte(text, pos)
    if x == 101 or x == 69 then
      s, e = string_find(text, "^[eE][-+]?%d+", pos)
      if not s then fail("expected an exponent") end
      pos, integer = e + 1, false
    end
    local literal = string_sub(text, start, pos - 1)
    local value = tonumber(literal)  -- an integer too large for 64 bits reads as a float, as Lua does
    if not integer and math_type(value) == "integer" then value = value + 0.0 end
    return value
  end

  local decode_value

  local function decode_array()
    pos = pos + 1
    depth = depth + 1
    if depth > DECODE_DEPTH then fail("nested more than " .. DECODE_DEPTH .. " levels deep") end
    local t, n = {}, 0
    skip()
    if string_byte(text, pos) == 93 then
      pos = pos + 1
    else
      while true do
        n = n + 1; t[n] = decode_value()
        skip()
        local c = string_byte(text, pos)
        pos = pos + 1
        if c == 93 then break end
        if c ~= 44 then pos = pos - 1 fail("expected ',' or ']'") end
      end
    end
    depth = depth - 1
    return setmetatable(t, array_mt)
  end

  local function decode_object()
    pos = pos + 1
    depth = depth + 1
    if depth > DECODE_DEPTH then fail("nested more than " .. DECODE_DEPTH .. " levels deep") end
    local t = {}
    skip()
    if string_byte(text, pos) == 125 then
      pos = pos + 1
    else
      while true do
        skip()
        if string_byte(text, pos) ~= 34 then fail("expected a string key") end
        local key = decode_string()
        skip()
        if string_byte(text, pos) ~= 58 then fail("expected ':'") end
        pos = pos + 1
        t[key] = decode_value()
        skip()
        local c = string_byte(text, pos)
        pos = pos + 1
        if c == 125 then break end
        if c ~= 44 then pos = pos - 1 fail("expected ',' or '}'") end
      end
    end
    depth = depth - 1
    return t
  end

  decode_value = function()
    skip()
    local c = string_byte(text, pos)
    if c == 34 then return decode_string() end
    if c == 123 then return decode_object() end
    if c == 91 then return decode_array() end
    if c == 116 and string_find(text, "^true", pos) then pos = pos + 4 return true end
    if c == 102 and string_find(text, "^false", pos) then pos = pos + 5 return false end
    if c == 110 and string_find(text, "^null", pos) then pos = pos + 4 return null end
    if c == nil then fail("expected a value, found the end") end
    return decode_number()
  end

  local value = decode_value()
  skip()
  if pos <= #text then fail("unexpected data after the value") end
  return value
end

-- The host turns a run's return value into output bytes with this (strings raw, the rest JSON).
local function render(value)
  local vt = type(value)
  if vt == "nil" then return nil end
  if vt == "string" then return value end
  if vt == "number" then return number_text(value) or tostring(value) end
  return encode_result(value)
end

-- The guest API --------------------------------------------------------------------------------

local function print(...)
  local count = select("#", ...)
  local parts = {}
  for i = 1, count do parts[i] = tostring((select(i, ...))) end
  py_out(table_concat(parts, "\t") .. "\n")
end

local function log(...)
  local count = select("#", ...)
  local parts = {}
  for i = 1, count do
    local v = select(i, ...)
    if type(v) == "table" and not rawequal(v, null) then
      local ok, text = raw_pcall(encode_log, v)
      checked(ok, text)
      parts[i] = ok and text or tostring(v)
    else
      parts[i] = tostring(v)
    end
  end
  py_log(table_concat(parts, " "))
end

local function call(plugin, action, payload)
  if type(plugin) ~= "string" or type(action) ~= "string" then
    error("call(plugin, action, payload): plugin and action must be strings", 2)
  end
  local ok, reply = py_call(plugin, action, encode_payload(payload))
  if not ok then error(reply, 2) end
  -- the reply is JSON text, converted here under the run's memory limit and deadline
  local value = decode_json(reply, "call: the plugin's reply")
  if rawequal(value, null) then return nil end  -- null ("no value") reads naturally: call(...) or default
  return value
end

local json = {
  null = null,
  encode = function(value) return encode_guest(value) end,
  decode = function(text)
    if type(text) ~= "string" then error("json.decode: expected a string, got " .. type(text), 2) end
    return decode_json(text, "json.decode: invalid JSON")
  end,
  array = function(t)
    if t == nil then t = {} end
    if type(t) ~= "table" then error("json.array: expected a table, got " .. type(t), 2) end
    return mark_array(t)
  end,
}

local function copy(library, names)
  local t = {}
  for name in string.gmatch(names, "%S+") do t[name] = library[name] end
  return t
end

local function build(fuel_count)
  local env = {}

  local function hook()
    local again = py_tick()
    if again then sethook(hook, "", again) end
  end
  local function hooked(f)
    if not fuel_count or type(f) ~= "function" then return f end
    return function(...)
      sethook(hook, "", fuel_count)  -- a new coroutine has no hook of its own
      return f(...)
    end
  end

  local function load(chunk, name, mode, chunk_env)
    if mode ~= nil and mode ~= "t" then
      if type(mode) ~= "string" or string_find(mode, "b", 1, true) then
        return nil, "binary chunks are not allowed in faasctl's Lua sandbox"
      end
    end
    if chunk_env == nil then chunk_env = env end
    return checked(raw_load(chunk, name, "t", chunk_env))
  end

  local function collectgarbage(option, ...)
    option = option == nil and "collect" or option
    if option == "count" or option == "collect" or option == "step" or option == "isrunning" then
      return raw_collectgarbage(option, ...)
    end
    error("collectgarbage('" .. tostring(option) .. "') is not allowed in faasctl's Lua sandbox", 2)
  end

  local coroutine_lib = copy(coroutine, "isyieldable running status yield")
  coroutine_lib.create = function(f)
    if type(f) ~= "function" then return co_create(f) end
    return co_create(hooked(f))
  end
  -- wrap as Lua does it (resume; on an error close the coroutine and raise), but seeing the error
  -- before the close, like every protected call here
  local function wrap_end(co, ok, ...)
    if ok then return ... end
    local err = ...
    if err == MEM then die_memory() end
    if co_status(co) == "dead" then err = closed_error(co, err) end
    error(err, 2)
  end
  coroutine_lib.wrap = function(f)
    if type(f) ~= "function" then return co_wrap(f) end
    local co = co_create(hooked(f))
    return function(...) return wrap_end(co, co_resume(co, ...)) end
  end
  coroutine_lib.resume = function(co, ...) return checked(co_resume(co, ...)) end
  coroutine_lib.close = function(co) return checked(co_close(co)) end
  -- the coroutines behind protected calls are invisible: the guest sees the thread they stand for
  coroutine_lib.running = function()
    local co = logical(co_running())
    return co, co == main_thread
  end
  coroutine_lib.isyieldable = function(co)
    co = logical(co or co_running())
    return co ~= main_thread and co_isyieldable(co)
  end
  coroutine_lib.status = function(co)
    if co == logical(co_running()) then return "running" end
    return co_status(co)
  end

  for name in string.gmatch("assert error getmetatable ipairs next pairs rawequal rawget rawlen rawset select "
                            .. "tonumber tostring type _VERSION", "%S+") do
    env[name] = _G[name]
  end
  env._G = env
  env.print = print
  env.log = log
  env.call = call
  env.json = json
  env.load = load
  env.collectgarbage = collectgarbage
  -- Finalizers never run: an object is marked for finalization only if its metatable has __gc when
  -- it is set, so setmetatable sets it without. A __gc would run outside the guest's control (at any
  -- allocation, or at close after the run), where its errors, a memory error included, are swallowed.
  env.setmetatable = function(t, mt)
    if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
      local gc = rawget(mt, "__gc")
      rawset(mt, "__gc", nil)
      local ok, err = raw_pcall(setmetatable, t, mt)
      rawset(mt, "__gc", gc)
      if not ok then error(err, 2) end
      return t
    end
    return setmetatable(t, mt)
  end
  env.pcall = function(f, ...) return protected(hooked, f, ...) end
  local function handled(handler, ok, ...)
    if ok then return true, ... end
    return false, select(2, protected(hooked, handler, (...)))
  end
  env.xpcall = function(f, handler, ...)
    if type(handler) ~= "function" then error("bad argument #2 to 'xpcall' (function expected)", 2) end
    return handled(handler, protected(hooked, f, ...))
  end
  env.coroutine = coroutine_lib
  env.string = copy(string, "byte char find format gmatch gsub len lower match pack packsize rep reverse "
                            .. "sub unpack upper")
  env.table = copy(table, "concat insert move pack remove sort unpack")
  env.math = copy(math, "abs ceil cos deg exp floor fmod huge log max maxinteger min mininteger modf pi rad "
                        .. "random randomseed sin sqrt tan tointeger type ult acos asin atan")
  env.utf8 = copy(utf8, "char charpattern codepoint codes len offset")
  env.os = copy(os, "clock date difftime time")
  -- Method calls on strings ("x"):rep(3) go through this metatable: point it at the guest's copy so
  -- string.dump is not reachable that way either.
  raw_getmetatable("").__index = env.string
  local function start()
    if fuel_count then sethook(hook, "", fuel_count) end
  end
  return env, start
end

local traceback, string_dump = debug.traceback, string.dump

local function failure(e, trace)
  local message
  if type(e) == "string" then
    message = e
  elseif rawequal(e, null) or type(e) == "table" then
    local ok, text = raw_pcall(encode_log, e)
    -- not tostring(e): a guest __tostring would run here, after the run, outside every limit check
    message = ok and text or "(error object is a table value)"
  else
    message = tostring(e)  -- a number, boolean, function or thread: no guest code runs
  end
  return {message, trace}
end

-- Compile (text only) or load the host's cached bytecode, with the guest environment as _ENV.
local function compile(source, name, mode, env)
  local chunk, err = raw_load(source, name, mode, env)
  return chunk, err
end

local function dump(chunk)
  return string_dump(chunk)
end

-- Convert the input, run the chunk, then main(args) when it defines one; render the value as output
-- bytes. All of it in a coroutine standing for the main thread, so the error that ends it is seen
-- before any __close handler runs (see `protected`). Returns true, output or false, MEM | {message,
-- traceback}.
local function run(chunk, env, input, start)
  local co = co_create(function()
    local args = decode_json(input, "the input")
    input = nil
    start()
    local value = chunk()
    local main = rawget(env, "main")
    if main ~= nil then value = main(args) end
    return render(value)
  end)
  stands_for[co] = main_thread
  local ok, value = co_resume(co)
  if ok and co_status(co) == "dead" then return true, value end
  local err = ok and "attempt to yield from outside a coroutine" or value
  if err == MEM then return false, MEM end
  local trace = traceback(co)
  local closed, replaced = co_close(co)
  if not closed and replaced ~= nil then err = replaced end
  if err == MEM then return false, MEM end
  return false, failure(err, trace)
end

return build, run, compile, dump
"""
