-- Logs each new bench/config state with the key names it contains.
local tt = require("tattletale")

tt.state("bench", "config", function(src, config, meta)
  local keys = {}
  if type(config) == "table" then
    for k in pairs(config) do
      keys[#keys + 1] = tostring(k)
    end
  end
  table.sort(keys)
  tt.log("info", "config from " .. src .. ": " .. table.concat(keys, ","))
end)
