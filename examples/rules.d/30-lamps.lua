-- Lamps: every lamp publishes its state; this rule combines them into
-- one home state, reading the others from the router's state cache.
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
  if on == 0 then
    tt.event("home", "dark", { after = meta.name })
  end
end)
