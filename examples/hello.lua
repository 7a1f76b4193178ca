-- The lua-experiments hello action: faasctl run examples/hello.lua -d '{"name":"from Lua"}'
function main(args)
  if args.name == nil then
    args.name = 'World'
  end
  return 'Hello ' .. args.name
end
