// Node's `ws` client through `ws6455 inspect --record` to a Node `ws` echo
// server, with permessage-deflate (RFC 7692) and context takeover on both
// sides: every message of the recording must inflate to exactly what was
// sent, in order, in both directions. The inspector can only do that if it
// inflates each direction with the window the 101 agreed and keeps that
// window from one message to the next, as the peers do.
//
// Two connections: windows of 15 bits (ws's default offer) and of 10 bits
// for the server, 9 for the client. On each, the client sends text and
// binary messages of many sizes (empty, similar JSON records, a message
// repeated so that the second copy is a back-reference into the first, and
// messages over the 64 KiB a message event shows), some in fragments with a
// Ping between them; the server echoes each, the longer ones in three
// fragments with a Ping between the first two. Then a close with 1000.
// The inspector's log and live view go to target/node-test/inspect/.
//
// Run with tests/node/run.sh (npm ci of the pinned ws, cargo build).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket, { WebSocketServer } from 'ws';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const binary = process.env.WS6455_BIN ?? path.join(root, 'target/debug/ws6455');
const artifacts = path.join(root, 'target/node-test/inspect');
const STEP_MS = 30_000;
const KiB = 1024;

/** The most bytes of a message a `message` event shows (event.rs). */
const MESSAGE_BYTES_SHOWN = 64 * KiB;

/** The server echoes messages longer than this in three fragments. */
const FRAGMENT_ECHO_OVER = 2 * KiB;

/** The Ping the server sends between the first two fragments of an echo. */
const ECHO_PING = Buffer.from('mid-echo');

/** Waits until `check()` is true, polling; fails with `what` after STEP_MS. */
async function until(check, what) {
  const deadline = Date.now() + STEP_MS;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A Node `ws` echo server with context takeover both ways (no
 * `*_no_context_takeover`) and threshold 0, so every message is compressed.
 * It accepts the windows the client offers.
 */
function startEchoServer() {
  return new Promise((resolve) => {
    const server = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      perMessageDeflate: { threshold: 0 },
    });
    server.on('connection', (ws) => {
      ws.on('message', (data, isBinary) => {
        if (data.length <= FRAGMENT_ECHO_OVER) {
          ws.send(data, { binary: isBinary });
          return;
        }
        const third = Math.floor(data.length / 3);
        ws.send(data.subarray(0, third), { binary: isBinary, fin: false });
        ws.ping(ECHO_PING);
        ws.send(data.subarray(third, 2 * third), { binary: isBinary, fin: false });
        ws.send(data.subarray(2 * third), { binary: isBinary, fin: true });
      });
    });
    server.once('listening', () => resolve(server));
  });
}

/**
 * Starts `ws6455 inspect` on a port of its choosing in front of `upstream`,
 * recording to `record`; waits for the line saying where it listens.
 */
async function startInspector(upstream, record) {
  fs.mkdirSync(artifacts, { recursive: true });
  const logPath = path.join(artifacts, 'inspector.log');
  const viewPath = path.join(artifacts, 'live-view.txt');
  const log = fs.openSync(logPath, 'w');
  const view = fs.openSync(viewPath, 'w');
  const child = spawn(binary, [
    'inspect', '--listen', '127.0.0.1:0', '--upstream', upstream, '--record', record,
  ], { stdio: ['ignore', view, log] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let port = null;
  await until(() => {
    if (child.exitCode !== null) throw new Error(`ws6455 inspect exited; see ${logPath}`);
    const listening = fs.readFileSync(logPath, 'utf8').match(/listening on ws:\/\/127\.0\.0\.1:(\d+)/);
    port = listening && Number(listening[1]);
    return port !== null;
  }, `ws6455 inspect to say where it listens (${logPath})`);
  return {
    port,
    logPath,
    running: () => child.exitCode === null && child.signalCode === null,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      fs.closeSync(log);
      fs.closeSync(view);
    },
  };
}

/** A `ws` client through the inspector, with an inbox of what it received. */
class Client {
  static open(port, perMessageDeflate) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate });
      ws.once('open', () => { ws.off('error', reject); resolve(new Client(ws)); });
      ws.once('error', reject);
    });
  }

  constructor(ws) {
    this.ws = ws;
    this.inbox = [];
    this.waiters = [];
    this.errors = [];
    /** The Pings received, in order. */
    this.pings = [];
    ws.on('message', (data, isBinary) => {
      const waiter = this.waiters.shift();
      if (waiter) waiter({ data, isBinary }); else this.inbox.push({ data, isBinary });
    });
    ws.on('ping', (data) => this.pings.push(data));
    ws.on('error', (error) => this.errors.push(error));
    this.closed = new Promise((resolve) => {
      ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
  }

  next() {
    if (this.inbox.length > 0) return Promise.resolve(this.inbox.shift());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no echo within the time limit')), STEP_MS);
      this.waiters.push((m) => { clearTimeout(timer); resolve(m); });
    });
  }

  /**
   * Sends `message` (its pieces as fragments, a Ping between the first two
   * if it asks for one), waits for the echo and checks it byte for byte.
   */
  async echo(message) {
    const { pieces, binary, pingBetween } = message;
    for (const [i, piece] of pieces.entries()) {
      if (i === 1 && pingBetween) this.ws.ping(pingBetween);
      this.ws.send(piece, { binary, fin: i === pieces.length - 1 });
    }
    const reply = await this.next();
    assert.equal(reply.isBinary, binary, `the echo of ${message.name} is of its type`);
    assert.ok(reply.data.equals(message.bytes), `the echo of ${message.name} is what was sent`);
  }
}

/** A message to send: its fragments, and all its bytes. */
function message(name, binary, pieces, pingBetween = null) {
  const buffers = pieces.map((p) => Buffer.from(p));
  return { name, binary, pieces: buffers, bytes: Buffer.concat(buffers), pingBetween };
}

/** A chat record, much like the one before it: what context takeover is for. */
function record(i) {
  return JSON.stringify({
    id: i,
    user: `user-${i % 5}`,
    room: 'general',
    text: `message number ${i}: the quick brown fox jumps over the lazy dog`,
    sent: `2024-01-01T00:00:${String(i % 60).padStart(2, '0')}Z`,
  });
}

/** Some `size` bytes of JSON records, repetitive. */
function records(size) {
  let json = '';
  for (let i = 0; json.length < size; i++) json += record(i) + '\n';
  return json.slice(0, size);
}

/**
 * What the client sends, in order. The pair of the same random hex text is
 * there for context takeover: DEFLATE's Huffman codes shrink hex, its LZ77
 * finds nothing in it, so only a window still holding the first copy can
 * shrink the second.
 */
function conversation() {
  const hex = crypto.randomBytes(4 * KiB).toString('hex');
  const block = crypto.randomBytes(KiB);
  const repeated = Buffer.concat([block, block, block, block]);
  const utf8 = Buffer.from('abc é 😀 def '.repeat(300));
  const cuts = [utf8.indexOf(0xc3) + 1, utf8.indexOf(0xf0) + 2];
  const messages = [];
  for (let i = 0; i < 20; i++) messages.push(message(`record ${i}`, false, [record(i)]));
  messages.push(
    message('an empty text', false, ['']),
    message('an empty binary', true, [Buffer.alloc(0)]),
    message('one byte', false, ['x']),
    message('random hex', false, [hex]),
    message('the same random hex again', false, [hex]),
    message('a repeated random block', true, [repeated]),
    message('the same block again', true, [repeated]),
    message('100 KiB of random bytes', true, [crypto.randomBytes(100 * KiB)]),
    message('200 KiB of records', false, [records(200 * KiB)]),
    message('text in three fragments, UTF-8 cut, a Ping between', false,
      [utf8.subarray(0, cuts[0]), utf8.subarray(cuts[0], cuts[1]), utf8.subarray(cuts[1])],
      Buffer.from('between')),
    message('binary in fragments, the first empty', true,
      [Buffer.alloc(0), repeated, Buffer.from('ten bytes!')]),
    message('records in two fragments', false, [records(3 * KiB), records(6 * KiB)]),
  );
  for (let i = 20; i < 30; i++) messages.push(message(`record ${i}`, false, [record(i)]));
  return messages;
}

/** The events of connection `conn` in the recording at `recordPath`. */
function eventsOf(recordPath, conn) {
  return fs.readFileSync(recordPath, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line))
    .filter((event) => event.conn === conn);
}

/** A message event's bytes as shown: its text, or its data. */
function shownBytes(event) {
  return event.type === 'text' ? Buffer.from(event.text, 'utf8') : Buffer.from(event.data_hex, 'hex');
}

/**
 * The recording's data messages from `from` are `sent`, in order: each one
 * compressed, of its type, its length exactly, its bytes exactly (or, past
 * what an event shows, its first bytes, and marked truncated), carried by
 * `framesOf(message)` frames whose lengths add up to its wire length.
 */
function assertMessagesRecorded(events, from, sent, framesOf) {
  const seen = events.filter((e) => e.kind === 'message' && e.from === from
    && (e.type === 'text' || e.type === 'binary'));
  const frames = events.filter((e) => e.kind === 'frame' && e.from === from && e.opcode <= 2);
  assert.equal(seen.length, sent.length, `the ${from}'s data messages recorded`);
  let frame = 0;
  for (const [i, [event, message]] of seen.map((e, i) => [e, sent[i]]).entries()) {
    const what = `the ${from}'s message ${i} (${message.name})`;
    assert.equal(event.type, message.binary ? 'binary' : 'text', `${what}: its type`);
    assert.equal(event.compressed, true, `${what}: compressed`);
    assert.equal(event.length, message.bytes.length, `${what}: its length`);
    const shown = shownBytes(event);
    if (message.bytes.length > MESSAGE_BYTES_SHOWN) {
      assert.equal(event.truncated, true, `${what}: truncated`);
      // A text is shown up to the last whole character.
      assert.ok(shown.length > MESSAGE_BYTES_SHOWN - 4, `${what}: ${shown.length} bytes shown`);
      assert.ok(shown.equals(message.bytes.subarray(0, shown.length)), `${what}: its first bytes`);
    } else {
      assert.equal(event.truncated, false, `${what}: not truncated`);
      assert.ok(shown.equals(message.bytes), `${what}: inflated to what was sent`);
    }
    assert.equal(event.frames, framesOf(message), `${what}: its frames`);
    const own = frames.slice(frame, frame + event.frames);
    frame += event.frames;
    assert.deepEqual(own.map((f) => f.opcode), [message.binary ? 2 : 1, ...Array(event.frames - 1).fill(0)],
      `${what}: its frames' opcodes`);
    assert.deepEqual(own.map((f) => f.rsv1), [true, ...Array(event.frames - 1).fill(false)],
      `${what}: RSV1 on its first frame only (RFC 7692 §6)`);
    assert.deepEqual(own.map((f) => f.fin), [...Array(event.frames - 1).fill(false), true],
      `${what}: FIN on its last frame only`);
    assert.equal(own.reduce((sum, f) => sum + f.length, 0), event.wire_length, `${what}: its wire length`);
    assert.ok(own.every((f) => f.masked === (from === 'client')), `${what}: masked by the client only`);
  }
  assert.equal(frame, frames.length, `the ${from}'s data frames all belong to its messages`);
}

/** The control messages of type `type` from `from`: their payloads, as text. */
function controls(events, from, type) {
  return events.filter((e) => e.kind === 'message' && e.from === from && e.type === type)
    .map((e) => Buffer.from(e.data_hex, 'hex').toString());
}

/**
 * One connection through the inspector: the conversation, echoed, then the
 * recording checked against it. `deflate` is the handshake's agreement the
 * recording must show.
 */
async function inspectConnection(t, perMessageDeflate, deflate) {
  const client = await Client.open(inspector.port, perMessageDeflate);
  const localPort = client.ws._socket.localPort;
  const sent = conversation();

  await t.test('every message is echoed intact through the inspector', async () => {
    for (const message of sent) await client.echo(message);
    client.ws.close(1000, 'done');
    assert.equal((await client.closed).code, 1000);
    assert.deepEqual(client.errors, []);
  });

  // The connection's events, once its end is recorded.
  let events = [];
  await until(() => {
    const all = fs.readFileSync(recordPath, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
    const opened = all.find((e) => e.kind === 'connection' && e.client === `127.0.0.1:${localPort}`);
    events = opened ? eventsOf(recordPath, opened.conn) : [];
    return events.some((e) => e.kind === 'end');
  }, 'the connection\'s end in the recording');

  await t.test('the handshake agreed permessage-deflate with context takeover', () => {
    const handshake = events.find((e) => e.kind === 'handshake');
    assert.equal(handshake.response.status, 101);
    assert.deepEqual(handshake.deflate, deflate);
  });

  await t.test('no violations and nothing dropped', () => {
    assert.deepEqual(events.filter((e) => e.kind === 'violation'), []);
    const dropped = fs.readFileSync(recordPath, 'utf8').split('\n').filter((l) => l.includes('"kind":"dropped"'));
    assert.deepEqual(dropped, []);
  });

  await t.test('every client message of the recording inflates to what it sent', () => {
    assertMessagesRecorded(events, 'client', sent, (m) => m.pieces.length);
  });

  await t.test('every server message of the recording inflates to its echo', () => {
    assertMessagesRecorded(events, 'server', sent, (m) => (m.bytes.length > FRAGMENT_ECHO_OVER ? 3 : 1));
  });

  await t.test('the Pings between fragments, and their Pongs', () => {
    const clientPings = sent.filter((m) => m.pingBetween).map((m) => m.pingBetween.toString());
    const echoPings = sent.filter((m) => m.bytes.length > FRAGMENT_ECHO_OVER).map(() => ECHO_PING.toString());
    assert.deepEqual(controls(events, 'client', 'ping'), clientPings);
    assert.deepEqual(controls(events, 'server', 'pong'), clientPings);
    assert.deepEqual(controls(events, 'server', 'ping'), echoPings);
    assert.deepEqual(controls(events, 'client', 'pong'), echoPings);
    assert.equal(client.pings.length, echoPings.length);
  });

  await t.test('the closing handshake: 1000 both ways', () => {
    const closes = events.filter((e) => e.kind === 'message' && e.type === 'close');
    assert.deepEqual(closes.map((e) => [e.from, e.close_code]), [['client', 1000], ['server', 1000]]);
    assert.equal(closes[0].text, 'done');
  });

  return events;
}

let server;
let inspector;
let recordPath;

before(async () => {
  server = await startEchoServer();
  fs.mkdirSync(artifacts, { recursive: true });
  recordPath = path.join(artifacts, 'record.jsonl');
  inspector = await startInspector(`ws://127.0.0.1:${server.address().port}/`, recordPath);
});

after(async () => {
  await inspector?.stop();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
});

test('context takeover with 15-bit windows (ws\'s offer, threshold 0)', async (t) => {
  const events = await inspectConnection(t, { threshold: 0 }, {
    server_no_context_takeover: false,
    client_no_context_takeover: false,
    server_max_window_bits: 15,
    client_max_window_bits: 15,
  });
  await t.test('the second copy went as a back-reference into the first, and was inflated', () => {
    const wire = (from) => events.filter((e) => e.kind === 'message' && e.from === from
      && e.type === 'text' && /^[0-9a-f]+$/.test(e.text)).map((e) => e.wire_length);
    for (const from of ['client', 'server']) {
      const [first, second] = wire(from);
      assert.ok(second < first / 10, `the ${from}'s random hex: ${first} then ${second} bytes on the wire`);
    }
  });
});

test('context takeover with a 10-bit server window and a 9-bit client window', async (t) => {
  await inspectConnection(t, { threshold: 0, serverMaxWindowBits: 10, clientMaxWindowBits: 9 }, {
    server_no_context_takeover: false,
    client_no_context_takeover: false,
    server_max_window_bits: 10,
    client_max_window_bits: 9,
  });
});

test('the inspector is still running', () => {
  assert.ok(inspector.running(), `ws6455 inspect exited; see ${inspector.logPath}`);
});
