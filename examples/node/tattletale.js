// SPDX-License-Identifier: MIT
// A tattletale client for Node.js: signed events, states and actions over
// MQTT (protocol v1), with the same listen/stop/emit calls as the Lua module.
//
// Receiving follows the protocol's order, so JSON.parse only ever reads
// bytes whose HMAC matched: size and topic, signature tail and key id, a
// constant-time tag compare, then JSON and fields, then freshness.
'use strict';

const crypto = require('node:crypto');
const mqtt = require('mqtt');

const KINDS = {
	event: { qos: 0, retain: false },
	state: { qos: 0, retain: true },
	action: { qos: 2, retain: false },
};
const REASONS = ['too-large', 'bad-topic', 'no-signature', 'unknown-key', 'bad-signature',
	'bad-json', 'bad-field', 'stale', 'future', 'replay', 'rollback', 'retained-event'];
const DEFAULTS = { maxPayload: 256 * 1024, maxDepth: 64, maxHops: 8, past: 120000,
	future: 30000, idCapacity: 65536, stateCapacity: 65536 };

const SRC = /^[A-Za-z0-9._-]{1,64}$/;
const ID = /^[A-Za-z0-9_-]{16,64}$/;
const KID = /^[A-Za-z0-9_-]{1,32}$/;
const TAIL = /,"sig":"([A-Za-z0-9_-]{1,32})\.([A-Za-z0-9_-]{43})"}$/;
const TAIL_MAX = 86;	// bytes in the longest tail: ,"sig":" + 32 + . + 43 + "}
const BAD_PART = /[/+#\u0000-\u001f\u007f-\u009f]|^\$/;
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;	// with the u flag, only unpaired halves match
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function isValidPart(s) {
	const n = typeof s === 'string' ? Buffer.byteLength(s) : 0;
	return n >= 1 && n <= 128 && !BAD_PART.test(s) && !LONE_SURROGATE.test(s);
}

// Returns HMAC-SHA256(key, "tattletale-v1\n" KID "\n" topic "\n" body) as 32 bytes.
function computeTag(key, kid, topic, body) {
	return crypto.createHmac('sha256', key)
		.update(`tattletale-v1\n${kid}\n${topic}\n`).update(body).digest();
}

// Signs one message and returns the payload as a Buffer. data is JSON text.
function sign(key, kid, topic, { src, ts, id, hop = 0, data }) {
	const body = `{"v":1,"src":${JSON.stringify(src)},"ts":${ts},"id":${JSON.stringify(id)},` +
		(hop > 0 ? `"hop":${hop},` : '') + `"data":${data}`;
	const mac = computeTag(Buffer.isBuffer(key) ? key : Buffer.from(key, 'utf8'), kid, topic, body);
	return Buffer.from(`${body},"sig":"${kid}.${mac.toString('base64url')}"}`, 'utf8');
}

// Tells whether text nests deeper than max, scanning characters without parsing, as the router does.
function isTooDeep(text, max) {
	let depth = 0;
	let inString = false;
	for (let i = 0; i < text.length; i++) {
		const c = text[i];
		if (inString) {
			if (c === '\\') i++;
			else if (c === '"') inString = false;
		} else if (c === '"') {
			inString = true;
		} else if (c === '[' || c === '{') {
			if (++depth > max) return true;
		} else if ((c === ']' || c === '}') && depth > 0) {
			depth--;
		}
	}
	return false;
}

function parseTopic(prefix, topic) {
	if (!topic.startsWith(prefix + '/')) return null;
	const parts = topic.slice(prefix.length + 1).split('/');
	if (parts.length !== 3 || !KINDS[parts[0]] || !isValidPart(parts[1]) || !isValidPart(parts[2]))
		return null;
	return { kind: parts[0], ns: parts[1], name: parts[2] };
}

// Steps 1 to 4 of the protocol. Returns { reason } or { msg }.
// opts: prefix, keys (a Map from kid to key Buffer), maxPayload, maxDepth.
function verify(opts, topic, payload) {
	if (payload.length > opts.maxPayload) return { reason: 'too-large' };
	const parsed = parseTopic(opts.prefix, topic);
	if (parsed === null) return { reason: 'bad-topic' };

	const sig = TAIL.exec(payload.subarray(-TAIL_MAX).toString('latin1'));
	if (sig === null) return { reason: 'no-signature' };
	const key = opts.keys.get(sig[1]);
	if (key === undefined) return { reason: 'unknown-key' };
	const received = Buffer.from(sig[2], 'base64url');
	// A second spelling of the same 32 bytes is not the tag.
	if (received.length !== 32 || received.toString('base64url') !== sig[2])
		return { reason: 'bad-signature' };
	const body = payload.subarray(0, payload.length - sig[0].length);
	if (!crypto.timingSafeEqual(received, computeTag(key, sig[1], topic, body)))
		return { reason: 'bad-signature' };

	let root;
	try {
		const text = UTF8.decode(payload);
		if (isTooDeep(text, opts.maxDepth)) return { reason: 'bad-json' };
		root = JSON.parse(text);
	} catch {
		return { reason: 'bad-json' };
	}
	if (root === null || typeof root !== 'object' || Array.isArray(root) ||
	    root.sig !== `${sig[1]}.${sig[2]}`)
		return { reason: 'bad-json' };
	const { v, src, ts, id, hop = 0 } = root;
	if (v !== 1 || typeof src !== 'string' || !SRC.test(src) || !Number.isInteger(ts) || ts < 0 ||
	    typeof id !== 'string' || !ID.test(id) || !Number.isInteger(hop) || hop < 0 ||
	    !Object.hasOwn(root, 'data'))
		return { reason: 'bad-field' };
	return { msg: { ...parsed, topic, src, ts, id, hop, kid: sig[1], data: root.data } };
}

// Step 5: freshness. Events and actions must fall in a time window and must
// not repeat a (src, id) pair. States must not roll back per topic. The id
// cache never evicts a live entry: when full, its oldest entry goes and every
// ts at or below it is rejected as stale from then on, so a replay is never
// accepted.
class Freshness {
	constructor(limits = {}) {
		this.limits = { ...DEFAULTS, ...limits };
		this.seen = new Map();	// "src\nid" -> ts
		this.heap = [];		// [ts, key], a min-heap by ts
		this.floor = -1;
		this.states = new Map();	// "ns/name" -> { ts, id }, least recently updated first
	}

	check(msg, retained, now) {
		return msg.kind === 'state' ? this.checkState(msg) : this.checkEvent(msg, retained, now);
	}

	checkEvent(msg, retained, now) {
		const lo = now - this.limits.past;
		if (retained) return 'retained-event';
		if (msg.ts < lo || msg.ts <= this.floor) return 'stale';
		if (msg.ts > now + this.limits.future) return 'future';
		const key = msg.src + '\n' + msg.id;
		while (this.heap.length > 0 && this.heap[0][0] < lo)
			this.floor = Math.max(this.floor, this.pop());
		if (this.seen.has(key)) return 'replay';
		if (this.seen.size >= this.limits.idCapacity) {
			if (msg.ts <= this.heap[0][0]) return 'stale';
			this.floor = this.pop();
		}
		this.seen.set(key, msg.ts);
		this.push([msg.ts, key]);
		return 'ok';
	}

	checkState(msg) {
		const key = msg.ns + '/' + msg.name;
		const last = this.states.get(key);
		if (last !== undefined) {
			if (msg.ts < last.ts) return 'rollback';
			if (msg.ts === last.ts && msg.id === last.id) return 'repeat';
			this.states.delete(key);
		} else if (this.states.size >= this.limits.stateCapacity) {
			// NOTE: the forgotten topic accepts an older state again until a newer one is seen.
			this.states.delete(this.states.keys().next().value);
		}
		this.states.set(key, { ts: msg.ts, id: msg.id });
		return 'ok';
	}

	push(entry) {
		const h = this.heap;
		let i = h.push(entry) - 1;
		while (i > 0 && h[(i - 1) >> 1][0] > h[i][0]) {
			[h[i], h[(i - 1) >> 1]] = [h[(i - 1) >> 1], h[i]];
			i = (i - 1) >> 1;
		}
	}

	// Forgets the entry with the smallest ts and returns that ts.
	pop() {
		const h = this.heap;
		const [ts, key] = h[0];
		const last = h.pop();
		if (h.length > 0) {
			h[0] = last;
			for (let i = 0; ;) {
				let c = 2 * i + 1;
				if (c >= h.length) break;
				if (c + 1 < h.length && h[c + 1][0] < h[c][0]) c++;
				if (h[i][0] <= h[c][0]) break;
				[h[i], h[c]] = [h[c], h[i]];
				i = c;
			}
		}
		this.seen.delete(key);
		return ts;
	}
}

// JSON text of a value to emit. Throws on what the router would reject.
function encode(value) {
	const text = JSON.stringify(value === undefined ? null : value, (k, v) => {
		if (typeof v === 'number' && !Number.isFinite(v))
			throw new RangeError(`tattletale: cannot emit the non-finite number ${v}`);
		if ((typeof v === 'string' && LONE_SURROGATE.test(v)) || LONE_SURROGATE.test(k))
			throw new RangeError('tattletale: cannot emit a string with an unpaired surrogate');
		// Receivers reject \u0000, which JSON.stringify writes for a NUL character.
		if ((typeof v === 'string' && v.includes('\u0000')) || k.includes('\u0000'))
			throw new RangeError('tattletale: cannot emit a string with a NUL character');
		return v;
	});
	if (text === undefined) throw new TypeError(`tattletale: cannot emit a ${typeof value}`);
	return text;
}

// Returns the bytes of a key's text. The errors name the key id, never the key.
function toKeyBuffer(kid, text) {
	if (!KID.test(kid))
		throw new Error(`tattletale: invalid key id "${kid}": expected 1 to 32 of [A-Za-z0-9_-]`);
	const key = Buffer.from(String(text ?? ''), 'utf8');
	if (key.length < 16)
		throw new Error(`tattletale: key "${kid}" is missing or shorter than 16 bytes`);
	return key;
}

// Connects and calls cb(null, tt) once the broker accepted the connection,
// or cb(err) when the options are invalid or the first connection fails.
function connect(options, cb) {
	const config = { kid: 'default', prefix: 'tattletale', port: 1883, ...DEFAULTS, ...options };
	let key;
	const keys = new Map();
	try {
		if (!SRC.test(config.app ?? ''))
			throw new Error(`tattletale: invalid app "${config.app}": expected 1 to 64 of [A-Za-z0-9._-]`);
		if (typeof config.prefix !== 'string' || Buffer.byteLength(config.prefix) > 256 ||
		    !config.prefix.split('/').every(isValidPart))
			throw new Error(`tattletale: invalid topic prefix "${config.prefix}"`);
		for (const [kid, text] of Object.entries(config.keys ?? {}))
			keys.set(kid, toKeyBuffer(kid, text));
		key = toKeyBuffer(config.kid, config.key);
		if (!keys.has(config.kid)) keys.set(config.kid, key);
	} catch (err) {
		process.nextTick(cb, err);
		return;
	}

	const verifyOpts = { prefix: config.prefix, keys, maxPayload: config.maxPayload,
		maxDepth: config.maxDepth };
	const fresh = new Freshness(config);
	const rejected = Object.fromEntries(REASONS.map((r) => [r, 0]));
	const handlers = new Map();	// filter -> fn; one subscription per filter
	let current = null;		// meta of the handler running now, for hop counting
	let settled = false;
	const client = mqtt.connect({ host: config.host, port: config.port, protocolVersion: 4,
		clientId: `${config.app}-${crypto.randomBytes(6).toString('base64url')}`,
		reconnectPeriod: 1000 });

	const filterFor = (kind, ns, name) =>
		`${config.prefix}/${kind}/${ns === '*' ? '+' : ns}/${name === '*' ? '+' : name}`;

	function reject(topic, reason) {
		rejected[reason]++;
		if (config.onReject) config.onReject(topic, reason);
	}

	function receive(topic, payload, packet) {
		const { reason, msg } = verify(verifyOpts, topic, payload);
		if (reason) return reject(topic, reason);
		const verdict = fresh.check(msg, packet.retain, Date.now());
		if (verdict === 'repeat') return;
		if (verdict !== 'ok') return reject(topic, verdict);

		const meta = { kind: msg.kind, ns: msg.ns, name: msg.name, topic, ts: msg.ts, id: msg.id,
			hop: msg.hop, retained: packet.retain };
		const seen = new Set();
		for (const [ns, name] of [[msg.ns, msg.name], ['+', msg.name], [msg.ns, '+'], ['+', '+']]) {
			const fn = handlers.get(`${config.prefix}/${msg.kind}/${ns}/${name}`);
			if (fn === undefined || seen.has(fn)) continue;
			seen.add(fn);
			current = meta;
			try {
				fn(msg.src, msg.data, meta);
			} catch (err) {
				if (config.onError) config.onError(err, meta);
				else console.error(`tattletale: handler failed topic=${topic}:`, err);
			} finally {
				current = null;
			}
		}
	}

	function listen(kind, ns, name, fn) {
		const filter = filterFor(kind, ns, name);
		if (fn === undefined) {
			if (handlers.delete(filter)) client.unsubscribe(filter);
			return;
		}
		if (!handlers.has(filter)) client.subscribe(filter, { qos: KINDS[kind].qos });
		handlers.set(filter, fn);
	}

	function emit(kind, ns, name, value) {
		const data = encode(value);
		if (isTooDeep(data, config.maxDepth - 1))
			throw new RangeError(`tattletale: value nests deeper than ${config.maxDepth - 1} levels`);
		const hop = current === null ? 0 : current.hop + 1;
		if (hop > config.maxHops)
			throw new Error(`tattletale: hop limit ${config.maxHops} reached, ${kind} ${ns}/${name} not sent`);
		const topic = `${config.prefix}/${kind}/${ns}/${name}`;
		const id = crypto.randomBytes(16).toString('base64url');
		const payload = sign(key, config.kid, topic, { src: config.app, ts: Date.now(), id, hop, data });
		if (payload.length > config.maxPayload)
			throw new RangeError(`tattletale: payload of ${payload.length} bytes is over the ` +
				`limit of ${config.maxPayload}`);
		client.publish(topic, payload, KINDS[kind], (err) => {
			if (err && config.onError) config.onError(err, { kind, ns, name, topic, id });
		});
		return id;
	}

	function makeCall(kind) {
		return (ns, name, ...rest) => {
			const rule = 'expected 1 to 128 bytes without "/", "+", "#" or control characters, ' +
				'not starting with "$"';
			if (!isValidPart(ns)) throw new Error(`tattletale: invalid namespace "${ns}": ${rule}`);
			if (!isValidPart(name)) throw new Error(`tattletale: invalid name "${name}": ${rule}`);
			if (rest.length === 0 || typeof rest[0] === 'function')
				return listen(kind, ns, name, rest[0]);
			return emit(kind, ns, name, rest[0]);
		};
	}

	const tt = {
		app: config.app,
		rejected,
		event: makeCall('event'),
		state: makeCall('state'),
		action: makeCall('action'),
		close(done) {
			client.end(false, {}, () => done && done());
		},
	};

	// After the first connection, mqtt.js reconnects and resubscribes on its own.
	const timer = setTimeout(() => started(new Error(
		`tattletale: connecting to ${config.host}:${config.port} timed out`)), config.connectTimeout ?? 10000);
	function started(err) {
		if (settled) return;
		settled = true;
		clearTimeout(timer);
		if (err) client.end(true);
		cb(err ?? null, err ? undefined : tt);
	}

	client.on('message', receive);
	client.on('connect', () => started(null));
	client.on('error', (err) => {
		if (!settled) started(err);
		else if (config.onError) config.onError(err, null);
	});
}

module.exports = connect;
module.exports.sign = sign;
module.exports.verify = verify;
module.exports.Freshness = Freshness;
module.exports.REASONS = REASONS;
