-- The indexer: when the API announces a new item, ask for it to be
-- indexed (an action, so it is delivered once even if this router is
-- briefly away), then index it and publish the index's state.
local tt = require("tattletale")

local index = {}
local count = 0

tt.event("items", "created", function(src, item, meta)
  tt.log("info", "item announced id=" .. tostring(item.id) .. " by " .. src)
  tt.action("index", "item", { id = item.id, title = item.title })
end)

tt.action("index", "item", function(src, job)
  if index[job.id] == nil then
    count = count + 1
  end
  index[job.id] = job.title
  tt.state("index", "stats", { count = count, last = job.id, title = job.title })
end)
