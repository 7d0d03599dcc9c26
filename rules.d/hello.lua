-- A first rule: reply to each hello/ping event with a hello/pong event.
-- Try it: tattletale emit --app me event hello ping '"there"'
local tt = require("tattletale")

tt.event("hello", "ping", function(src, value, meta)
  tt.log("info", "ping from " .. src)
  tt.event("hello", "pong", { to = src, value = value })
end)
