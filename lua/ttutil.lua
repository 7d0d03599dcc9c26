-- SPDX-License-Identifier: MIT
-- Small helpers for rules, loaded with: local util = require("ttutil")
--
--   util.changed(old, new)     true when the two values differ; tables are
--                              compared by content, and an array differs
--                              from an object even when both are empty
--   util.debounce(seconds, fn) a function that calls fn once calls to it
--                              stop for that many seconds, with the
--                              arguments of the last call

local tt = require("tattletale")

local M = {}

local function differ(a, b, seen)
	if a == b then
		return false
	end
	if type(a) ~= "table" or type(b) ~= "table" then
		return true
	end
	if getmetatable(a) ~= getmetatable(b) then
		return true
	end

	-- A pair already being compared is assumed equal, so cycles end.
	seen[a] = seen[a] or {}
	if seen[a][b] then
		return false
	end
	seen[a][b] = true

	for k, v in pairs(a) do
		if rawget(b, k) == nil or differ(v, rawget(b, k), seen) then
			return true
		end
	end
	for k in pairs(b) do
		if rawget(a, k) == nil then
			return true
		end
	end
	return false
end

function M.changed(old, new)
	return differ(old, new, {})
end

function M.debounce(seconds, fn)
	local timer, args

	return function(...)
		args = table.pack(...)
		if timer then
			timer:cancel()
		end
		timer = tt.after(seconds, function()
			timer = nil
			fn(table.unpack(args, 1, args.n))
		end)
	end
end

return M
