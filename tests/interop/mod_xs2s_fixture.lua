-- Helpers that the xs2s Prosody fixture loads into a test instance.
--
-- Called from the admin shell as `> prosody.xs2s_fixture.NAME(...)`
-- (prosody-fixture.sh shell DIR '...'). Functions that take time return a
-- promise, which the shell waits for before it prints the result.
--
-- A sink: every message to sink@HOST (any resource) on a host of this
-- instance is counted and dropped, the last one kept for inspection; the
-- arrival time of messages whose id starts with "cold" is kept so that a
-- benchmark can join it with the send time on the other instance (both
-- instances run on one machine and share its clock).

module:set_global();

local st = require "util.stanza";
local time = require "util.time";
local timer = require "util.timer";
local promise = require "util.promise";
local new_id = require "util.id".short;
local xml = require "util.xml";
local jid = require "util.jid";

local s2s_sessions = module:shared("/*/s2s/sessions");

local sinks = {}; -- host -> { count, first, last, at = { [id] = time } }
local cold_samples = {}; -- { id, sent, answered } per cold round

local function sink_state(host)
	local s = sinks[host];
	if not s then
		s = { count = 0, at = {} };
		sinks[host] = s;
	end
	return s;
end

local function on_sink_message(event)
	local stanza = event.stanza;
	local to = stanza.attr.to;
	if not to or to:sub(1, 5) ~= "sink@" then return; end
	local now = time.now();
	local s = sink_state(to:sub(6):match("^[^/]+"));
	s.count = s.count + 1;
	s.first = s.first or now;
	s.last = now;
	s.last_stanza = stanza;
	local id = stanza.attr.id;
	if id and id:sub(1, 4) == "cold" then
		s.at[id] = now;
	end
	return true;
end

function module.add_host(host_module)
	host_module:hook("message/bare", on_sink_message, 1000);
	host_module:hook("message/full", on_sink_message, 1000);
end

local api = {};

-- Messages counted by the sink of HOST: "count=N first=T last=T".
function api.count(host)
	local s = sink_state(host);
	return ("count=%d first=%.6f last=%.6f"):format(s.count, s.first or 0, s.last or 0);
end

-- The last message the sink of HOST counted, as XML, or "none".
function api.last(host)
	local stanza = sink_state(host).last_stanza;
	return stanza and tostring(stanza) or "none";
end

-- Sends one stanza given as XML from the local host of its from address,
-- as if a module of that host sent it: "posted", or an error.
function api.post(text)
	local stanza, err = xml.parse(text);
	if not stanza then return nil, "not XML: "..tostring(err); end
	local from_host = jid.host(stanza.attr.from);
	if not from_host or not prosody.hosts[from_host] then
		return nil, "from is not a local host: "..tostring(stanza.attr.from);
	end
	module:context(from_host):send(stanza);
	return "posted";
end

-- Forgets what the sink of HOST counted.
function api.reset(host)
	sinks[host] = nil;
	return "reset";
end

-- Waits until the sink of HOST has counted at least N messages, at most
-- TIMEOUT seconds (default 60); resolves with api.count(HOST).
function api.wait(host, n, timeout)
	local deadline = time.now() + (timeout or 60);
	return promise.new(function (resolve, reject)
		timer.add_task(0, function ()
			if sink_state(host).count >= n then
				resolve(api.count(host));
				return;
			end
			if time.now() > deadline then
				reject(("timeout: %s"):format(api.count(host)));
				return;
			end
			return 0.005;
		end);
	end);
end

-- One message of about SIZE bytes (as serialised on the stream) from
-- bench@FROM to sink@TO; the padding is worked out once per size.
local paddings = {};
local function bench_message(from_host, to_host, id, size)
	size = size or 200;
	local key = from_host.." "..to_host.." "..size;
	local pad = paddings[key];
	if not pad then
		local bare = #tostring(st.message({ from = "bench@"..from_host.."/fixture",
			to = "sink@"..to_host, type = "chat", id = "m00000" })) + #"<body></body>";
		pad = ("x"):rep(math.max(0, size - bare));
		paddings[key] = pad;
	end
	return st.message({ from = "bench@"..from_host.."/fixture",
		to = "sink@"..to_host, type = "chat", id = id }):text_tag("body", pad);
end

-- Sends N messages of about SIZE bytes from FROM to sink@TO, BATCH (default
-- 500) per turn of the event loop so that the loop keeps writing.
-- Resolves when all are handed to the stream: "sent=N start=T queued=T".
function api.send(from_host, to_host, n, size, batch)
	batch = batch or 500;
	local sender = module:context(from_host);
	local template = tostring(bench_message(from_host, to_host, "m00000", size));
	return promise.new(function (resolve)
		local i, start = 0, time.now();
		timer.add_task(0, function ()
			local stop = math.min(n, i + batch);
			while i < stop do
				i = i + 1;
				sender:send(bench_message(from_host, to_host, "m"..i, size));
			end
			if i < n then return 0; end
			resolve(("sent=%d bytes=%d start=%.6f queued=%.6f"):format(n,
				#template, start, time.now()));
		end);
	end);
end

local function count_sessions()
	local n = 0;
	for _ in pairs(s2s_sessions) do n = n + 1; end
	return n;
end

-- How the established stream between HOST and REMOTE in direction DIR
-- ("out", the default, or "in") is secured and authenticated:
-- "tls=yes|no auth=cert|dialback|none", or "none" without such a stream.
local function describe_link(host, remote, dir)
	local want = (dir == "in") and "s2sin" or "s2sout";
	for _, session in pairs(s2s_sessions) do
		local from, to = session.from_host, session.to_host;
		if want == "s2sin" then from, to = to, from; end
		if session.type == want and from == host and to == remote then
			local auth = "none";
			local peer = session.hosts and session.hosts[remote];
			if session.external_auth == "succeeded" then
				auth = "cert";
			elseif session.dialback_key or (peer and peer.dialback_key) then
				auth = "dialback";
			end
			local tls = session.conn and session.conn:ssl() and "yes" or "no";
			return ("tls=%s auth=%s"):format(tls, auth);
		end
	end
	return "none";
end
api.link = describe_link;

-- Closes every S2S stream of this instance and resolves once all are gone
-- (the peer answers the stream close) plus SETTLE seconds.
function api.closeall(settle, timeout)
	for _, session in pairs(s2s_sessions) do
		session:close();
	end
	local deadline = time.now() + (timeout or 10);
	return promise.new(function (resolve, reject)
		timer.add_task(0, function ()
			if count_sessions() == 0 then
				timer.add_task(settle or 0, function ()
					resolve("closed");
				end);
				return;
			end
			if time.now() > deadline then
				reject(("%d s2s sessions still open"):format(count_sessions()));
				return;
			end
			return 0.002;
		end);
	end);
end

-- ROUNDS cold connections FROM -> TO. Each round closes every S2S stream,
-- waits SETTLE seconds (default 0.05), then sends a message (id "coldN") to
-- sink@TO followed by a ping to TO, and waits for the pong; the pong needs
-- the reverse stream too. Resolves with "rounds=N failed=N LINK" where LINK
-- describes the last outgoing stream (see api.link); api.samples() has the
-- times.
function api.cold(from_host, to_host, rounds, settle, timeout)
	local sender = module:context(from_host);
	cold_samples = {};
	local failed, last_link = 0, "none";
	return promise.new(function (resolve)
		local r = 0;
		local next_round;
		local function done_round()
			if r < rounds then
				next_round();
			else
				resolve(("rounds=%d failed=%d %s"):format(rounds, failed, last_link));
			end
		end
		local function measure()
			r = r + 1;
			local id = "cold"..r;
			local sample = { id = id, sent = time.now() };
			sender:send(bench_message(from_host, to_host, id, 200));
			local iq = st.iq({ from = from_host, to = to_host, type = "get", id = new_id() })
				:tag("ping", { xmlns = "urn:xmpp:ping" });
			sender:send_iq(iq, nil, timeout or 30):next(function ()
				sample.answered = time.now();
				last_link = describe_link(from_host, to_host);
				cold_samples[#cold_samples + 1] = sample;
			end, function (err)
				failed = failed + 1;
				module:log("warn", "cold round %d failed: %s", r, tostring(err));
			end):finally(done_round);
		end
		next_round = function ()
			api.closeall(settle or 0.05):next(measure, function (err)
				failed = failed + 1;
				module:log("warn", "cold round %d: %s", r, tostring(err));
				r = r + 1;
				done_round();
			end);
		end
		next_round();
	end);
end

-- Lines "ID SENT ANSWERED" of the last api.cold run.
function api.samples()
	local lines = {};
	for _, s in ipairs(cold_samples) do
		lines[#lines + 1] = ("%s %.6f %.6f"):format(s.id, s.sent, s.answered);
	end
	return table.concat(lines, "\n");
end

-- Lines "ID ARRIVED" of the cold messages the sink of HOST counted.
function api.arrivals(host)
	local lines = {};
	for id, t in pairs(sink_state(host).at) do
		lines[#lines + 1] = ("%s %.6f"):format(id, t);
	end
	table.sort(lines);
	return table.concat(lines, "\n");
end

-- Resident memory of this process in KiB and the Lua heap in KiB, after a
-- full garbage collection: "rss=N lua=N".
function api.memory()
	collectgarbage("collect");
	collectgarbage("collect");
	local rss = 0;
	local f = io.open("/proc/self/status");
	if f then
		for line in f:lines() do
			local kb = line:match("^VmRSS:%s*(%d+)");
			if kb then rss = tonumber(kb); end
		end
		f:close();
	end
	return ("rss=%d lua=%d"):format(rss, math.floor(collectgarbage("count")));
end

-- CPU time this process has used, in seconds: "cpu=S".
function api.cpu()
	return ("cpu=%.3f"):format(os.clock());
end

-- Number of S2S streams of this instance by type, e.g. "s2sin=1 s2sout=1".
function api.sessions()
	local by_type = {};
	for _, session in pairs(s2s_sessions) do
		by_type[session.type] = (by_type[session.type] or 0) + 1;
	end
	local parts = {};
	for t, n in pairs(by_type) do parts[#parts + 1] = t.."="..n; end
	table.sort(parts);
	return #parts > 0 and table.concat(parts, " ") or "none";
end

prosody.xs2s_fixture = api;

function module.unload()
	prosody.xs2s_fixture = nil;
end
