-- Raises an alarm event when a sensor reading goes above its limit.
local tt = require("tattletale")

local limit = 30

tt.event("sensor", "*", function(src, reading, meta)
  if type(reading) == "table" and type(reading.value) == "number" and reading.value > limit then
    tt.event("alarm", "high", { sensor = meta.name, value = reading.value, limit = limit })
  end
end)
