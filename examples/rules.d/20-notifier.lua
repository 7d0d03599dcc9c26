-- The notifier: reacts to the indexer's state with a request for an e-mail.
local tt = require("tattletale")

tt.state("index", "stats", function(src, stats, meta)
  if meta.retained then
    return -- an old state replayed at start-up: nothing new happened
  end
  tt.action("mail", "send", {
    to = "editors@example.com",
    subject = string.format("item %s indexed (%d in the index)", tostring(stats.last), stats.count),
  })
end)
