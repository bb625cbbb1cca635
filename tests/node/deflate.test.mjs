// Node's `ws` client against `ws6455 echo`, with and without
// permessage-deflate (RFC 7692). For each client configuration: what the
// server answered in Sec-WebSocket-Extensions; the echo, byte for byte, of
// 100 KiB of repetitive JSON (and that it crossed the wire compressed),
// 1 MiB of random bytes, empty messages, 1000 small messages in flight and
// fragmented messages; the same message twice (context takeover, as
// negotiated); and a clean close with 1000 both ways. The same over wss://,
// with a certificate from `ws6455 cert`. All of it twice: against `ws6455
// echo` (a thread per connection) and `ws6455 echo --async` (on tokio).
// The servers' output goes to target/node-test/server.log,
// server-no-deflate.log and server-tls.log, and the same names with
// -async for the async echo.
//
// Run with tests/node/run.sh (npm ci of the pinned ws, cargo build).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { accepts, freePort } from './support.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const binary = process.env.WS6455_BIN ?? path.join(root, 'target/debug/ws6455');
const artifacts = path.join(root, 'target/node-test');
const STEP_MS = 30_000;
const KiB = 1024;
const MiB = 1024 * KiB;

/** Starts `ws6455 echo` with `extraArgs` on a free port; waits until it accepts. */
async function startServer(name, extraArgs) {
  fs.mkdirSync(artifacts, { recursive: true });
  const logPath = path.join(artifacts, `${name}.log`);
  const log = fs.openSync(logPath, 'w');
  const port = await freePort();
  const child = spawn(binary, ['echo', '--listen', `127.0.0.1:${port}`, '--quiet', ...extraArgs], {
    stdio: ['ignore', log, log],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const deadline = Date.now() + STEP_MS;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`ws6455 echo ${extraArgs.join(' ')} did not start on port ${port}; see ${logPath}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    logPath,
    running: () => child.exitCode === null && child.signalCode === null,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      fs.closeSync(log);
    },
  };
}

/** A connected `ws` client with an inbox of the messages it received. */
class Client {
  /** With `ca` (a PEM certificate to trust), over wss:// to localhost. */
  static open(port, perMessageDeflate, ca = null) {
    return new Promise((resolve, reject) => {
      const ws = ca === null
        ? new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate })
        : new WebSocket(`wss://localhost:${port}/`, { perMessageDeflate, ca });
      let answered;
      ws.once('upgrade', (response) => { answered = response.headers['sec-websocket-extensions']; });
      ws.once('open', () => { ws.off('error', reject); resolve(new Client(ws, answered)); });
      ws.once('error', reject);
    });
  }

  constructor(ws, answered) {
    this.ws = ws;
    /** The server's Sec-WebSocket-Extensions, or undefined. */
    this.answered = answered;
    this.inbox = [];
    this.waiters = [];
    this.errors = [];
    ws.on('message', (data, isBinary) => {
      const message = { data, isBinary };
      const waiter = this.waiters.shift();
      if (waiter) waiter.resolve(message); else this.inbox.push(message);
    });
    ws.on('error', (error) => this.errors.push(error));
    this.closed = new Promise((resolve) => {
      ws.once('close', (code, reason) => {
        for (const waiter of this.waiters.splice(0)) {
          waiter.reject(new Error(`connection closed (${code}) while waiting for a message`));
        }
        resolve({ code, reason: reason.toString() });
      });
    });
  }

  /** The next message received: `{ data: Buffer, isBinary }`. */
  next() {
    if (this.inbox.length > 0) return Promise.resolve(this.inbox.shift());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no message within the time limit')), STEP_MS);
      this.waiters.push({
        resolve: (m) => { clearTimeout(timer); resolve(m); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
    });
  }

  get bytesRead() { return this.ws._socket.bytesRead; }
  get bytesWritten() { return this.ws._socket.bytesWritten; }

  /**
   * Sends `data` (as `binary` or text) and waits for its echo; asserts it is
   * the same bytes of the same type. Returns the bytes the echo took on the
   * wire and the bytes the message took on the way out.
   */
  async echo(data, binary) {
    const read = this.bytesRead;
    const written = this.bytesWritten;
    this.ws.send(data, { binary });
    const reply = await this.next();
    assertSame(reply, data, binary);
    return { in: this.bytesRead - read, out: this.bytesWritten - written };
  }
}

/** `reply` is `expected` (a string or bytes), byte for byte, and of its type. */
function assertSame(reply, expected, binary, what = 'the echo') {
  assert.equal(reply.isBinary, binary, `${what} is ${reply.isBinary ? 'binary' : 'text'}`);
  const want = Buffer.from(expected);
  assert.equal(reply.data.length, want.length, `${what}'s length`);
  assert.ok(reply.data.equals(want), `${what} differs from what was sent`);
}

/** Some 100 KiB of JSON, as a chat log or an API response would be: repetitive. */
function compressibleJson() {
  const records = [];
  for (let id = 0; JSON.stringify(records).length < 100 * KiB; id++) {
    records.push({
      id,
      user: `user-${id % 7}`,
      room: 'general',
      text: 'The quick brown fox jumps over the lazy dog.',
      tags: ['websocket', 'rfc6455', 'permessage-deflate'],
      sent: `2024-01-01T00:00:${String(id % 60).padStart(2, '0')}Z`,
    });
  }
  return JSON.stringify(records);
}

/** The params ws agreed to, from the server's answer. */
function agreed(client) {
  return client.ws._extensions['permessage-deflate']?.params ?? null;
}

/**
 * Everything each connection goes through. `deflate` says whether
 * permessage-deflate must have been negotiated.
 */
async function exercise(t, client, { deflate }) {
  await t.test('handshake: Sec-WebSocket-Extensions', (st) => {
    st.diagnostic(`server answered: ${client.answered ?? '(no Sec-WebSocket-Extensions)'}`);
    if (deflate) {
      assert.match(client.answered ?? '', /^permessage-deflate(;|$)/);
      assert.equal(client.ws.extensions, 'permessage-deflate');
    } else {
      assert.equal(client.answered, undefined);
      assert.equal(client.ws.extensions, '');
    }
  });

  await t.test('100 KiB of repetitive JSON text', async (st) => {
    const json = compressibleJson();
    const size = Buffer.byteLength(json);
    const wire = await client.echo(json, false);
    st.diagnostic(`${size} bytes: ${wire.out} on the wire out, ${wire.in} back`);
    if (deflate) {
      // Compressed both ways: well under the message's size.
      assert.ok(wire.in < size / 4, `the echo took ${wire.in} bytes on the wire for ${size}`);
      assert.ok(wire.out < size / 4, `the message took ${wire.out} bytes on the wire for ${size}`);
    } else {
      assert.ok(wire.in >= size, `the echo took ${wire.in} bytes on the wire for ${size}`);
    }
  });

  await t.test('1 MiB of random bytes (incompressible)', async (st) => {
    const data = crypto.randomBytes(MiB);
    const wire = await client.echo(data, true);
    st.diagnostic(`${data.length} bytes: ${wire.out} on the wire out, ${wire.in} back`);
    assert.ok(wire.in >= data.length, `${wire.in} bytes on the wire for ${data.length} random bytes`);
    // Sent as is, or deflate's stored blocks: a few bytes per 64 KiB.
    assert.ok(wire.in < data.length * 1.01, `${wire.in} bytes on the wire for ${data.length} random bytes`);
  });

  await t.test('empty messages, text and binary', async (st) => {
    await client.echo('', false);
    await client.echo(Buffer.alloc(0), true);
    // And explicitly asked to be compressed (ws compresses only from its
    // threshold on, which is 0 in some configurations here).
    client.ws.send('', { compress: true });
    assertSame(await client.next(), '', false);
  });

  await t.test('1000 small messages in flight, echoed in order', async (st) => {
    const sent = [];
    for (let i = 0; i < 1000; i++) {
      const binary = i % 3 === 0;
      const data = binary
        ? crypto.randomBytes(i % 200)
        : `message ${i}: ${'é€😀x'.repeat(i % 40)}`;
      sent.push({ data, binary });
      client.ws.send(data, { binary });
    }
    for (const [i, { data, binary }] of sent.entries()) {
      assertSame(await client.next(), data, binary, `the echo of message ${i}`);
    }
  });

  await t.test('fragmented messages (send with fin: false)', async (st) => {
    const fragmented = async (pieces, binary) => {
      for (const [i, piece] of pieces.entries()) {
        client.ws.send(piece, { binary, fin: i === pieces.length - 1 });
      }
      assertSame(await client.next(), Buffer.concat(pieces.map((p) => Buffer.from(p))), binary);
    };
    // A large first fragment: compressed (RSV1 on the first frame only)
    // where deflate was negotiated.
    const json = compressibleJson();
    await fragmented([json.slice(0, 40 * KiB), json.slice(40 * KiB, 80 * KiB), json.slice(80 * KiB)], false);
    // Random bytes, a small first fragment (not compressed at ws's default
    // threshold).
    await fragmented([crypto.randomBytes(10), crypto.randomBytes(30 * KiB), crypto.randomBytes(5 * KiB)], true);
    // UTF-8 characters split between fragments: 'é' (c3 a9) and '😀'
    // (f0 9f 98 80).
    const text = Buffer.from('abc é 😀 def '.repeat(200));
    const cuts = [text.indexOf(0xc3) + 1, text.indexOf(0xf0) + 2, text.length - 3];
    await fragmented([text.subarray(0, cuts[0]), text.subarray(cuts[0], cuts[1]),
      text.subarray(cuts[1], cuts[2]), text.subarray(cuts[2])], false);
    // Empty first and last fragments.
    await fragmented([Buffer.alloc(0), Buffer.from('middle'), Buffer.alloc(0)], false);
    // Still in step afterwards.
    await client.echo('after the fragments', false);
  });

  await t.test('the same message twice: context takeover as negotiated', async (st) => {
    // Random hex: DEFLATE's Huffman codes shrink it, its LZ77 finds nothing
    // in it; only a window still holding the first copy shrinks the second.
    const text = crypto.randomBytes(8 * KiB).toString('hex');
    const first = await client.echo(text, false);
    const second = await client.echo(text, false);
    const params = agreed(client);
    st.diagnostic(`agreed: ${JSON.stringify(params)}; out ${first.out} then ${second.out}, `
      + `back ${first.in} then ${second.in}`);
    if (!deflate) return;
    assert.ok(params, 'permessage-deflate was agreed');
    const window = 2 ** (params.client_max_window_bits ?? 15);
    if (params.client_no_context_takeover || window < Buffer.byteLength(text)) {
      // ws starts each message afresh, and ws6455 inflates it so.
      assert.ok(second.out > first.out * 0.9, `${first.out} then ${second.out} bytes out`);
    } else {
      // ws keeps its window: the second copy is a back-reference, and
      // ws6455 must inflate it with the first message's window.
      assert.ok(second.out < first.out / 10, `${first.out} then ${second.out} bytes out`);
    }
  });

  await t.test('close with 1000: the server answers 1000', async (st) => {
    client.ws.close(1000, 'done');
    const { code } = await client.closed;
    assert.equal(code, 1000);
    assert.deepEqual(client.errors, []);
  });
}

/**
 * The tests, against `ws6455 echo` started with `echoArgs` besides each
 * server's own; `suffix` tells these servers' logs apart.
 */
function echoTests(echoArgs, suffix) {
  let server;
  let serverNoDeflate;
  let serverTls;
  /** The PEM certificate serverTls presents, from `ws6455 cert`. */
  let certificate;

  before(async () => {
    server = await startServer(`server${suffix}`, [...echoArgs]);
    serverNoDeflate = await startServer(`server-no-deflate${suffix}`, [...echoArgs, '--no-deflate']);
    const tls = path.join(artifacts, `tls${suffix}`);
    execFileSync(binary, ['cert', '--out', tls]);
    certificate = fs.readFileSync(path.join(tls, 'cert.pem'));
    serverTls = await startServer(`server-tls${suffix}`, [...echoArgs,
      '--tls-cert', path.join(tls, 'cert.pem'),
      '--tls-key', path.join(tls, 'key.pem'),
    ]);
  });

  after(async () => {
    await server?.kill();
    await serverNoDeflate?.kill();
    await serverTls?.kill();
  });

  test('ws default (perMessageDeflate: true, client context takeover offered)', async (t) => {
    const client = await Client.open(server.port, true);
    await exercise(t, client, { deflate: true });
  });

  test('clientNoContextTakeover: true, threshold 0 (every message compressed)', async (t) => {
    const client = await Client.open(server.port, { clientNoContextTakeover: true, threshold: 0 });
    assert.match(client.answered ?? '', /^permessage-deflate(;|$)/);
    await exercise(t, client, { deflate: true });
  });

  test('small windows: server_max_window_bits=9, client_max_window_bits=9, threshold 0', async (t) => {
    const client = await Client.open(server.port, {
      serverMaxWindowBits: 9, clientMaxWindowBits: 9, threshold: 0,
    });
    await t.test('the server keeps to the window sizes asked', (st) => {
      assert.match(client.answered ?? '', /server_max_window_bits=9\b/);
      assert.match(client.answered ?? '', /client_max_window_bits=9\b/);
    });
    await exercise(t, client, { deflate: true });
  });

  test('perMessageDeflate: false', async (t) => {
    const client = await Client.open(server.port, false);
    await exercise(t, client, { deflate: false });
  });

  test('a server started with --no-deflate declines the ws default offer', async (t) => {
    const client = await Client.open(serverNoDeflate.port, true);
    await exercise(t, client, { deflate: false });
  });

  test('wss://: the ws default over TLS, trusting the certificate of ws6455 cert', async (t) => {
    const client = await Client.open(serverTls.port, true, certificate);
    assert.match(client.ws._socket.getProtocol(), /^TLSv1\.[23]$/);
    assert.equal(client.ws._socket.alpnProtocol, false);
    await exercise(t, client, { deflate: true });
  });

  test('wss://: a certificate nobody vouches for is refused by ws', async () => {
    await assert.rejects(
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`wss://localhost:${serverTls.port}/`);
        ws.once('open', () => { ws.terminate(); resolve(); });
        ws.once('error', reject);
      }),
      /self[- ]signed certificate/,
    );
  });

  test('the servers are still running (nothing crashed)', () => {
    assert.ok(serverTls.running(), `ws6455 echo over TLS exited; see ${serverTls.logPath}`);
    assert.ok(server.running(), `ws6455 echo exited; see ${server.logPath}`);
    assert.ok(serverNoDeflate.running(), `ws6455 echo --no-deflate exited; see ${serverNoDeflate.logPath}`);
  });
}

describe('ws6455 echo (a thread per connection)', () => echoTests([], ''));
describe('ws6455 echo --async (on tokio)', () => echoTests(['--async'], '-async'));
