// SPDX-License-Identifier: MIT
// The protocol v1 test vectors, signing, verifying and freshness, without a broker.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { sign, verify, Freshness, REASONS } = require('../tattletale');

const KEY = '0123456789abcdef0123456789abcdef';
const OPTS = { prefix: 'tattletale', keys: new Map([['k1', Buffer.from(KEY)]]),
	maxPayload: 256 * 1024, maxDepth: 64 };
const CREATED = '{"v":1,"src":"api","ts":1764806400000,"id":"AAAAAAAAAAAAAAAAAAAAAA",' +
	'"data":{"id":42,"title":"hello"},"sig":"k1.GYdLvecJ6hC_Lt1nJW91LjJJM_WIwuf5kTzRI6YxYHg"}';
const KITCHEN = '{"v":1,"src":"home","ts":1764806400500,"id":"BBBBBBBBBBBBBBBBBBBBBB","hop":2,' +
	'"data":{"on":true,"level":0.5,"name":"Küche","tags":[]},' +
	'"sig":"k1.CLyRL_tIyW308v8wIwIZCZaruE5YHix0NxdXA5swi98"}';
const ID = 'CCCCCCCCCCCCCCCCCCCCCC';

const check = (topic, payload) => verify(OPTS, topic, Buffer.from(payload, 'utf8'));
const reason = (topic, payload) => check(topic, payload).reason;
const signed = (topic, fields, key = KEY, kid = 'k1') =>
	sign(key, kid, topic, { src: 'node', ts: 1764806400000, id: ID, data: '{"a":1}', ...fields }).toString();

test('first vector verifies', () => {
	const { reason: r, msg } = check('tattletale/event/items/created', CREATED);
	assert.equal(r, undefined);
	assert.equal(msg.kind, 'event');
	assert.equal(msg.ns, 'items');
	assert.equal(msg.name, 'created');
	assert.equal(msg.src, 'api');
	assert.equal(msg.ts, 1764806400000);
	assert.equal(msg.id, 'AAAAAAAAAAAAAAAAAAAAAA');
	assert.equal(msg.hop, 0);
	assert.equal(msg.kid, 'k1');
	assert.deepEqual(msg.data, { id: 42, title: 'hello' });
});

test('second vector verifies', () => {
	const { reason: r, msg } = check('tattletale/state/lamp/kitchen', KITCHEN);
	assert.equal(r, undefined);
	assert.equal(msg.kind, 'state');
	assert.equal(msg.src, 'home');
	assert.equal(msg.hop, 2);
	assert.deepEqual(msg.data, { on: true, level: 0.5, name: 'Küche', tags: [] });
});

test('first vector on another topic fails', () => {
	assert.equal(reason('tattletale/event/items/deleted', CREATED), 'bad-signature');
});

test('signing reproduces the vectors', () => {
	const created = sign(KEY, 'k1', 'tattletale/event/items/created', { src: 'api', ts: 1764806400000,
		id: 'AAAAAAAAAAAAAAAAAAAAAA', data: '{"id":42,"title":"hello"}' });
	const kitchen = sign(KEY, 'k1', 'tattletale/state/lamp/kitchen', { src: 'home', ts: 1764806400500,
		id: 'BBBBBBBBBBBBBBBBBBBBBB', hop: 2, data: '{"on":true,"level":0.5,"name":"Küche","tags":[]}' });
	assert.equal(created.toString(), CREATED);
	assert.equal(kitchen.toString(), KITCHEN);
});

test('sign then verify round trip', () => {
	const topic = 'tattletale/action/index/item';
	const { reason: r, msg } = check(topic, signed(topic, { hop: 3, data: '{"x":[1,"ü",null]}' }));
	assert.equal(r, undefined);
	assert.equal(msg.hop, 3);
	assert.deepEqual(msg.data, { x: [1, 'ü', null] });
});

test('any changed byte fails', () => {
	for (let i = 0; i < CREATED.length; i++) {
		const bytes = Buffer.from(CREATED);
		bytes[i] ^= 0x01;
		assert.notEqual(verify(OPTS, 'tattletale/event/items/created', bytes).reason, undefined, `byte ${i}`);
	}
});

test('rejection reasons in order', () => {
	const topic = 'tattletale/event/items/created';
	assert.equal(verify({ ...OPTS, maxPayload: 64 }, topic, Buffer.from(CREATED)).reason, 'too-large');
	assert.equal(reason('tattletale/event/items', CREATED), 'bad-topic');
	assert.equal(reason('tattletale/other/items/created', CREATED), 'bad-topic');
	assert.equal(reason('tattletale/event/$items/created', CREATED), 'bad-topic');
	assert.equal(reason('other/event/items/created', CREATED), 'bad-topic');
	assert.equal(reason(topic, CREATED + ' '), 'no-signature');
	assert.equal(reason(topic, CREATED.replace('k1.', 'k1 .')), 'no-signature');
	assert.equal(reason(topic, CREATED.slice(0, -3) + '"}'), 'no-signature');
	assert.equal(reason(topic, CREATED.replace('"sig":"k1.', '"sig":"k2.')), 'unknown-key');
	assert.equal(reason(topic, signed(topic, {}, KEY, 'k2')), 'unknown-key');
	assert.equal(reason(topic, signed(topic, {}, 'another-key-of-32-bytes-00000000')), 'bad-signature');
	assert.equal(reason(topic, signed(topic, { data: '{"a":' }, KEY)), 'bad-json');
	assert.equal(reason(topic, signed(topic, { data: '[' .repeat(64) + ']'.repeat(64) })), 'bad-json');
	assert.equal(reason(topic, signed(topic, { data: '[' .repeat(100000) })), 'bad-json');
	assert.equal(reason(topic, signed(topic, { src: 'bad src' })), 'bad-field');
	assert.equal(reason(topic, signed(topic, { id: 'short' })), 'bad-field');
	assert.equal(reason(topic, signed(topic, { ts: -1 })), 'bad-field');
	assert.equal(reason(topic, signed(topic, { ts: 1.5 })), 'bad-field');
	assert.equal(reason(topic, signed(topic, { hop: 1.5 })), 'bad-field');
});

test('data nested 63 levels passes', () => {
	const topic = 'tattletale/event/items/created';
	assert.equal(reason(topic, signed(topic, { data: '['.repeat(63) + ']'.repeat(63) })), undefined);
});

test('invalid utf-8 fails as bad-json', () => {
	const topic = 'tattletale/event/items/created';
	const body = Buffer.concat([Buffer.from('{"v":1,"src":"a","ts":1,"id":"' + ID + '","data":"'),
		Buffer.from([0xff]), Buffer.from('"')]);
	const mac = require('node:crypto').createHmac('sha256', KEY)
		.update(`tattletale-v1\nk1\n${topic}\n`).update(body).digest('base64url');
	const payload = Buffer.concat([body, Buffer.from(`,"sig":"k1.${mac}"}`)]);
	assert.equal(verify(OPTS, topic, payload).reason, 'bad-json');
});

test('non-canonical tag fails', () => {
	const topic = 'tattletale/event/items/created';
	const good = signed(topic, {});
	const last = good.at(-3);
	const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
	// The last of 43 characters carries 4 bits; setting a low padding bit keeps the bytes.
	const twin = alphabet[alphabet.indexOf(last) ^ 1];
	const tagOf = (p) => Buffer.from(p.slice(-45, -2), 'base64url');
	assert.deepEqual(tagOf(good.slice(0, -3) + twin + '"}'), tagOf(good));
	assert.equal(reason(topic, good.slice(0, -3) + twin + '"}'), 'bad-signature');
});

test('data member missing fails', () => {
	const topic = 'tattletale/event/items/created';
	const body = `{"v":1,"src":"a","ts":1,"id":"${ID}"`;
	const mac = require('node:crypto').createHmac('sha256', KEY)
		.update(`tattletale-v1\nk1\n${topic}\n${body}`).digest('base64url');
	assert.equal(reason(topic, `${body},"sig":"k1.${mac}"}`), 'bad-field');
});

test('reason names match the protocol', () => {
	assert.deepEqual(REASONS, ['too-large', 'bad-topic', 'no-signature', 'unknown-key', 'bad-signature',
		'bad-json', 'bad-field', 'stale', 'future', 'replay', 'rollback', 'retained-event']);
});

const NOW = 1764806400000;
const event = (ts, id = ID, src = 'node') => ({ kind: 'event', ns: 'a', name: 'b', src, ts, id });
const state = (ts, id = ID) => ({ kind: 'state', ns: 'lamp', name: 'kitchen', src: 'home', ts, id });

test('events inside the window pass', () => {
	const f = new Freshness();
	assert.equal(f.check(event(NOW - 120000), false, NOW), 'ok');
	assert.equal(f.check(event(NOW + 30000, 'DDDDDDDDDDDDDDDDDDDDDD'), false, NOW), 'ok');
});

test('events outside the window fail', () => {
	const f = new Freshness();
	assert.equal(f.check(event(NOW - 120001), false, NOW), 'stale');
	assert.equal(f.check(event(NOW + 30001), false, NOW), 'future');
});

test('replayed event fails', () => {
	const f = new Freshness();
	assert.equal(f.check(event(NOW), false, NOW), 'ok');
	assert.equal(f.check(event(NOW), false, NOW + 1000), 'replay');
	assert.equal(f.check(event(NOW, ID, 'other'), false, NOW), 'ok');
});

test('retained event fails', () => {
	assert.equal(new Freshness().check(event(NOW), true, NOW), 'retained-event');
	assert.equal(new Freshness().check({ ...event(NOW), kind: 'action' }, true, NOW), 'retained-event');
});

test('full cache raises the floor', () => {
	const f = new Freshness({ idCapacity: 16 });
	const id = (i) => `id${String(i).padStart(14, '0')}`;
	for (let i = 0; i < 16; i++)
		assert.equal(f.check(event(NOW - 1000 + i, id(i)), false, NOW), 'ok');
	assert.equal(f.check(event(NOW, id(16)), false, NOW), 'ok');
	assert.equal(f.check(event(NOW - 1000, id(0)), false, NOW), 'stale');
	assert.equal(f.check(event(NOW - 1000, id(99)), false, NOW), 'stale');
	assert.equal(f.check(event(NOW - 999, id(1)), false, NOW), 'replay');
	assert.equal(f.seen.size, 16);
});

test('full cache of newer entries rejects older ts', () => {
	const f = new Freshness({ idCapacity: 16 });
	for (let i = 0; i < 16; i++)
		f.check(event(NOW, `id${String(i).padStart(14, '0')}`), false, NOW);
	assert.equal(f.check(event(NOW - 1, 'EEEEEEEEEEEEEEEEEEEEEE'), false, NOW), 'stale');
});

test('expired entries leave the cache', () => {
	const f = new Freshness({ idCapacity: 16 });
	assert.equal(f.check(event(NOW), false, NOW), 'ok');
	assert.equal(f.check(event(NOW + 200000, 'FFFFFFFFFFFFFFFFFFFFFF'), false, NOW + 200000), 'ok');
	assert.equal(f.seen.size, 1);
});

test('states roll back and repeat', () => {
	const f = new Freshness();
	assert.equal(f.check(state(NOW - 86400000), true, NOW), 'ok');
	assert.equal(f.check(state(NOW - 86400000), true, NOW), 'repeat');
	assert.equal(f.check(state(NOW - 86400001, 'GGGGGGGGGGGGGGGGGGGGGG'), false, NOW), 'rollback');
	assert.equal(f.check(state(NOW - 86400000, 'HHHHHHHHHHHHHHHHHHHHHH'), false, NOW), 'ok');
	assert.equal(f.check(state(NOW, 'IIIIIIIIIIIIIIIIIIIIII'), false, NOW), 'ok');
});
