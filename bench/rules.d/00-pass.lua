-- The rule under test: re-emit every bench/in event as bench/out, value unchanged.
local tt = require("tattletale")

tt.event("bench", "in", function(src, v)
  tt.event("bench", "out", v)
end)
