-- Forwards events from an old topic name to the new one.
local tt = require("tattletale")

tt.event("legacy", "ping", function(src, v)
  tt.event("hello", "ping", v)
end)
