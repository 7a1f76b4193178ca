-- The lua-experiments memory bomb: grows a table until the memory limit ends the run.
-- faasctl run examples/evil.lua --memory 100MiB   (exit 4: memory limit of 100MiB exceeded)
function main(args)
  local strings = {}
  while true do
    table.insert(strings, 'evil')
  end
end
