-- Replies to each mail/send action with a result state.
local tt = require("tattletale")

tt.action("mail", "send", function(src, mail, meta)
  local ok = type(mail) == "table" and type(mail.to) == "string"
  tt.state("mail", "result", { request = meta.id, status = ok and "sent" or "rejected" })
end)
