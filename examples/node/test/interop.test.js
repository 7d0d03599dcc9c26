// SPDX-License-Identifier: MIT
// The Node.js client against the tattletale router through a private
// mosquitto on a free loopback port: a Node service emits, a Lua rule
// reacts, the reply comes back signed, and a forged message is rejected.
//
// TT_BIN names the router binary (default: build/plain/tattletale at the top
// of the source tree); TATTLETALE_LUA_DIR and MOSQUITTO_BIN are passed through.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const mqtt = require('mqtt');
const { sign } = require('../tattletale');
const connect = require('../tattletale');

const TOP = path.resolve(__dirname, '../../..');
const TT_BIN = process.env.TT_BIN || path.join(TOP, 'build/plain/tattletale');
const MOSQUITTO = process.env.MOSQUITTO_BIN ||
	(fs.existsSync('/usr/sbin/mosquitto') ? '/usr/sbin/mosquitto' : 'mosquitto');
const KEY = '0123456789abcdef0123456789abcdef';
const WAIT_MS = 10000;

const RULE = `local tt = require("tattletale")

tt.event("items", "created", function(src, item)
  tt.state("items", "indexed", { id = item.id, by = tt.app, from = src })
end)

tt.event("ping", "request", function(src, req)
  tt.action("ping", "reply", { n = req.n, to = src })
end)
`;

let tmp;
let broker;
let router;
let routerLog = '';
let port;
let tt;
let raw;
const indexed = [];
const replies = [];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Polls until check() returns a truthy value and returns it. Rejects after ms
// with an error that names the awaited condition.
async function waitFor(condition, check, ms = WAIT_MS) {
	const deadline = Date.now() + ms;
	for (;;) {
		const value = check();
		if (value) return value;
		if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${condition}`);
		await sleep(20);
	}
}

function freePort() {
	return new Promise((resolve, reject) => {
		const server = net.createServer();
		server.once('error', reject);
		server.listen(0, '127.0.0.1', () => {
			const { port: free } = server.address();
			server.close(() => resolve(free));
		});
	});
}

function accepts(candidate) {
	return new Promise((resolve) => {
		const socket = net.connect(candidate, '127.0.0.1');
		socket.once('connect', () => { socket.destroy(); resolve(true); });
		socket.once('error', () => resolve(false));
	});
}

// Starts mosquitto on a free port, retrying when another process took it first.
async function startBroker() {
	for (let attempt = 1; attempt <= 5; attempt++) {
		const candidate = await freePort();
		const conf = path.join(tmp, 'mosquitto.conf');
		fs.writeFileSync(conf, `listener ${candidate} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
		const child = spawn(MOSQUITTO, ['-c', conf], { stdio: 'ignore' });
		let exited = false;
		child.once('exit', () => { exited = true; });
		child.once('error', () => { exited = true; });
		const deadline = Date.now() + 5000;
		while (!exited && Date.now() < deadline) {
			if (await accepts(candidate) && child.exitCode === null) return { child, port: candidate };
			await sleep(50);
		}
		await stop(child);
	}
	throw new Error(`cannot start ${MOSQUITTO} on a free loopback port`);
}

// Sends SIGTERM to a child we started, then SIGKILL if it is still running after 5 s.
function stop(child) {
	if (!child || child.exitCode !== null || child.signalCode !== null || child.pid === undefined)
		return Promise.resolve();
	return new Promise((resolve) => {
		const timer = setTimeout(() => process.kill(child.pid, 'SIGKILL'), 5000);
		child.once('exit', () => { clearTimeout(timer); resolve(); });
		process.kill(child.pid, 'SIGTERM');
	});
}

function connectNode() {
	return new Promise((resolve, reject) => {
		connect({ host: '127.0.0.1', port, app: 'webapp', key: KEY, kid: 'k1' },
			(err, client) => (err ? reject(err) : resolve(client)));
	});
}

before(async () => {
	assert.ok(fs.existsSync(TT_BIN), `router binary not found: ${TT_BIN} (build it or set TT_BIN)`);
	tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-node-'));
	fs.writeFileSync(path.join(tmp, 'key'), KEY + '\n', { mode: 0o600 });
	fs.mkdirSync(path.join(tmp, 'rules.d'));
	fs.writeFileSync(path.join(tmp, 'rules.d', '10-interop.lua'), RULE);
	({ child: broker, port } = await startBroker());

	const config = path.join(tmp, 'tattletale.yaml');
	fs.writeFileSync(config, `app: indexer
broker: { host: 127.0.0.1, port: ${port} }
keys:
  - { id: k1, file: ${path.join(tmp, 'key')} }
rules: ${path.join(tmp, 'rules.d')}
stats: { interval: 0 }
`);
	const env = { ...process.env };
	if (!env.TATTLETALE_LUA_DIR && fs.existsSync(path.join(TOP, 'lua')))
		env.TATTLETALE_LUA_DIR = path.join(TOP, 'lua');
	router = spawn(TT_BIN, ['run', '-c', config], { env, stdio: ['ignore', 'ignore', 'pipe'] });
	router.stderr.setEncoding('utf8');
	router.stderr.on('data', (chunk) => { routerLog += chunk; });
	await waitFor('"mqtt: connected" from the router', () => {
		assert.equal(router.exitCode, null, `router exited early:\n${routerLog}`);
		return routerLog.includes('mqtt: connected');
	});

	tt = await connectNode();
	tt.state('items', 'indexed', (src, value, meta) => indexed.push({ src, value, meta }));
	tt.action('ping', 'reply', (src, value, meta) => replies.push({ src, value, meta }));

	// The router subscribes before it publishes its presence, so once the
	// presence arrives here the broker has its subscriptions.
	let online = false;
	tt.state('tattletale', 'indexer', (src, value) => { online = value && value.status === 'online'; });
	await waitFor('the router presence state', () => online);
}, { timeout: 60000 });

after(async () => {
	await new Promise((resolve) => (tt ? tt.close(resolve) : resolve()));
	await new Promise((resolve) => (raw ? raw.end(true, {}, resolve) : resolve()));
	await stop(router);
	await stop(broker);
	if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}, { timeout: 30000 });

test('rule reply reaches node', { timeout: 30000 }, async () => {
	tt.event('items', 'created', { id: 42 });
	const got = await waitFor('the indexed state of item 42', () => indexed.find((m) => m.value.id === 42));
	assert.equal(got.src, 'indexer');
	assert.deepEqual(got.value, { id: 42, by: 'indexer', from: 'webapp' });
	assert.equal(got.meta.kind, 'state');
	assert.equal(got.meta.topic, 'tattletale/state/items/indexed');
	assert.equal(got.meta.hop, 1);
	assert.equal(tt.rejected['bad-signature'], 0);
});

test('forged message rejected by router', { timeout: 30000 }, async () => {
	raw = mqtt.connect({ host: '127.0.0.1', port, protocolVersion: 4 });
	await new Promise((resolve, reject) => { raw.once('connect', resolve); raw.once('error', reject); });

	const topic = 'tattletale/event/items/created';
	const fields = { src: 'webapp', ts: Date.now(), id: 'forgedforgedforgedforg', data: '{"id":666}' };
	const good = sign(KEY, 'k1', topic, fields).toString();
	const forged = good.slice(0, -45) + (good.at(-45) === 'A' ? 'B' : 'A') + good.slice(-44);
	assert.notEqual(forged, good);
	await new Promise((resolve, reject) =>
		raw.publish(topic, forged, { qos: 1 }, (err) => (err ? reject(err) : resolve())));

	await waitFor('reason=bad-signature in the router log', () => routerLog.includes('reason=bad-signature'));
	assert.match(routerLog, /message rejected reason=bad-signature topic=tattletale\/event\/items\/created/);

	// The router handles messages one at a time, so once the event sent
	// after the forged one is indexed, a reaction to the forged one would show.
	tt.event('items', 'created', { id: 43 });
	await waitFor('the indexed state of item 43', () => indexed.find((m) => m.value.id === 43));
	assert.equal(indexed.find((m) => m.value.id === 666), undefined);
});

test('rule action reaches node', { timeout: 30000 }, async () => {
	tt.event('ping', 'request', { n: 7 });
	const got = await waitFor('the ping/reply action', () => replies[0]);
	assert.equal(got.src, 'indexer');
	assert.deepEqual(got.value, { n: 7, to: 'webapp' });
	assert.equal(got.meta.kind, 'action');
	assert.equal(got.meta.hop, 1);
	assert.equal(got.meta.retained, false);
});

test('node rejects nothing from router', () => {
	for (const [reason, count] of Object.entries(tt.rejected))
		assert.equal(count, 0, `rejected as ${reason}`);
});

test('emit throws on values receivers reject', () => {
	assert.throws(() => tt.event('a', 'b', 'x\u0000y'), /NUL character/);
	assert.throws(() => tt.event('a', 'b', { ['k\u0000']: 1 }), /NUL character/);
	assert.throws(() => tt.event('a', 'b', [NaN]), /non-finite/);
	assert.throws(() => tt.event('a', 'b', '\ud800'), /unpaired surrogate/);
});
