-- Emits an event when the front door state changes to open.
local tt = require("tattletale")

local was_open = false

tt.state("door", "front", function(src, door, meta)
  local open = type(door) == "table" and door.open == true
  if open and not was_open and not meta.retained then
    tt.event("door", "opened", { at = meta.ts })
  end
  was_open = open
end)
