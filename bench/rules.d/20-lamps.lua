-- Reports how many lamps are on whenever one of them changes.
local tt = require("tattletale")

local lamps = { "kitchen", "hall", "porch" }

tt.state("lamp", "*", function(src, lamp, meta)
  local on = 0
  for _, name in ipairs(lamps) do
    local state = tt.get("lamp", name)
    if state ~= nil and state.on then
      on = on + 1
    end
  end
  tt.state("home", "lights", { on = on, total = #lamps, changed = meta.name })
end)
