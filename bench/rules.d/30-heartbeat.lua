-- Publishes a heartbeat event once a minute.
local tt = require("tattletale")

local beats = 0

tt.every(60, function()
  beats = beats + 1
  tt.event("bench", "heartbeat", { beats = beats })
end)
