-- Turns bursts of button presses into one event half a second after the last press.
local tt = require("tattletale")

local pending = nil
local presses = 0

tt.event("button", "press", function(src, v)
  presses = presses + 1
  if pending ~= nil then
    pending:cancel()
  end
  pending = tt.after(0.5, function()
    tt.event("button", "burst", { presses = presses })
    presses = 0
    pending = nil
  end)
end)
