-- Counts bench/count events and publishes the total as a state.
local tt = require("tattletale")

local total = 0

tt.event("bench", "count", function(src, v)
  total = total + 1
  tt.state("bench", "total", { total = total, last_from = src })
end)
