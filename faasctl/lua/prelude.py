"""The Lua side of the sandbox, run once in every fresh state before the guest's chunk.

It is kept as a Python string (not a ``.lua`` file) so it ships without package-data rules.
The chunk receives the host's callbacks, captures every library function it needs as a local
(so nothing the guest later replaces can change how the host encodes results or enforces limits),
and returns ``build(fuel_count)``, which makes the guest environment: an allow-listed table, never
the real global table. The guest never sees a Python object: every callback is wrapped in a Lua
closure whose upvalues it cannot reach (``debug`` is absent).
"""

PRELUDE = r"""
local py_out, py_log, py_call, py_decode, py_tick, py_die, py_refused = ...

local type, tostring, tonumber, select, next, error = type, tostring, tonumber, select, next, error
local rawget, rawset, rawlen, rawequal = rawget, rawset, rawlen, rawequal
local setmetatable, raw_getmetatable = setmetatable, debug.getmetatable
local raw_pcall, raw_xpcall, raw_load, raw_collectgarbage = pcall, xpcall, load, collectgarbage
local string_format, string_gsub, string_find, string_char = string.format, string.gsub, string.find, string.char
local string_match = string.match
local table_concat, table_sort = table.concat, table.sort
local math_type, math_huge = math.type, math.huge
local utf8_len = utf8.len
local co_create, co_wrap, co_resume, co_close = coroutine.create, coroutine.wrap, coroutine.resume, coroutine.close
local sethook = debug.sethook

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
          depth = depth + 1; path[depth] = tostring(k)
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
  return reply
end

local json = {
  null = null,
  encode = function(value) return encode_guest(value) end,
  decode = function(text)
    if type(text) ~= "string" then error("json.decode: expected a string, got " .. type(text), 2) end
    local ok, value = py_decode(text)
    if not ok then error(value, 2) end
    return value
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
    if not fuel_count then return f end
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
    if type(chunk) == "function" then  -- a reader: collect its pieces, so the text can be checked
      local pieces = {}
      while true do
        local piece = chunk()
        if piece == nil or piece == "" then break end
        if type(piece) ~= "string" then return nil, "reader function must return a string" end
        pieces[#pieces + 1] = piece
      end
      chunk = table_concat(pieces)
    end
    if type(chunk) == "string" then
      local refused = py_refused(chunk)
      if refused then return nil, refused end
    end
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
  coroutine_lib.wrap = function(f)
    if type(f) ~= "function" then return co_wrap(f) end
    return co_wrap(hooked(f))
  end
  coroutine_lib.resume = function(co, ...) return checked(co_resume(co, ...)) end
  coroutine_lib.close = function(co) return checked(co_close(co)) end

  for name in string.gmatch("assert error getmetatable ipairs next pairs rawequal rawget rawlen rawset select "
                            .. "setmetatable tonumber tostring type _VERSION", "%S+") do
    env[name] = _G[name]
  end
  env._G = env
  env.print = print
  env.log = log
  env.call = call
  env.json = json
  env.load = load
  env.collectgarbage = collectgarbage
  env.pcall = function(f, ...) return checked(raw_pcall(f, ...)) end
  env.xpcall = function(f, handler, ...)
    if type(handler) ~= "function" then error("bad argument #2 to 'xpcall' (function expected)", 2) end
    return checked(raw_xpcall(f, function(e)
      if e == MEM then die_memory() end
      return handler(e)
    end, ...))
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

local function failure(e)
  if e == MEM then return MEM end
  local message
  if type(e) == "string" then
    message = e
  elseif rawequal(e, null) or type(e) == "table" then
    local ok, text = raw_pcall(encode_log, e)
    message = ok and text or tostring(e)
  else
    message = tostring(e)
  end
  return {message, traceback(nil, 2)}
end

-- Compile (text only) or load the host's cached bytecode, with the guest environment as _ENV.
local function compile(source, name, mode, env)
  local chunk, err = raw_load(source, name, mode, env)
  return chunk, err
end

local function dump(chunk)
  return string_dump(chunk)
end

-- Run the chunk, then main(args) when it defines one; render the value as output bytes.
-- Returns true, output or false, MEM | {message, traceback}.
local function run(chunk, env, args, start)
  return raw_xpcall(function()
    start()
    local value = chunk()
    local main = rawget(env, "main")
    if main ~= nil then value = main(args) end
    local output = render(value)
    sethook()
    return output
  end, failure)
end

return build, run, compile, dump, mark_array, null
"""
