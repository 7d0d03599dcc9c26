-- The mailer: replies to each mail/send action with a reply state that
-- names the request, so the sender can tell its request was handled.
local tt = require("tattletale")

local sent = 0

tt.action("mail", "send", function(src, mail, meta)
  if type(mail) ~= "table" or type(mail.to) ~= "string" then
    tt.state("mail", "result", { request = meta.id, status = "rejected", reason = "missing to" })
    return
  end
  sent = sent + 1
  tt.log("info", "sending mail to " .. mail.to .. ": " .. tostring(mail.subject))
  tt.state("mail", "result", { request = meta.id, from = src, status = "sent", count = sent })
end)
