// Chromium's own WebSocket against `ws6455 echo` (a thread per connection)
// and `ws6455 echo --async` (on tokio). A page served by the test opens a
// WebSocket to each echo with Chromium's permessage-deflate offer, and
// checks in the page that it was agreed and that every message comes back
// byte for byte and of its type: a text with characters of every UTF-8
// length, an empty text, 256 binary bytes (every value once), an empty
// binary message, 1 MiB of repetitive text and 1 MiB of random bytes; then
// it closes with 1000 and waits for the server's answer. The two echoes
// must answer alike, down to the extension parameters. On failure, a
// screenshot and the servers' logs are in target/browser-test/.
//
// Run with cli/tests/browser/run.sh (installs Chromium and playwright-core).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { binary, chromiumPath, artifacts, CHROMIUM_ARGS, freePort, accepts } from './support.mjs';

const STEP_MS = 30_000;

/**
 * Starts `ws6455 echo` with `extraArgs` on a free port, its output in
 * target/browser-test/`name`.log; waits until it accepts connections.
 */
async function startEcho(name, extraArgs) {
  fs.mkdirSync(artifacts, { recursive: true });
  const logPath = path.join(artifacts, `${name}.log`);
  const log = fs.openSync(logPath, 'w');
  const port = await freePort();
  const child = spawn(binary, ['echo', '--listen', `127.0.0.1:${port}`, ...extraArgs], {
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
    url: `ws://127.0.0.1:${port}/`,
    logPath,
    running: () => child.exitCode === null && child.signalCode === null,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      fs.closeSync(log);
    },
  };
}

/** A plain page for the WebSocket to start from: http://127.0.0.1:PORT/. */
async function startPageServer() {
  const server = http.createServer((request, response) => {
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Connection': 'close' });
    response.end('<!doctype html><title>echo</title><p>WebSocket echo test</p>');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/**
 * Runs in the page: opens a WebSocket to `url`, sends each message and
 * compares its echo with it, then closes with 1000. Returns what happened:
 * the agreed extensions, one line per message (its kind, size and whether
 * the echo matched), the close event and any error event.
 */
async function echoInPage(url) {
  const MiB = 1024 * 1024;
  const socket = new WebSocket(url);
  socket.binaryType = 'arraybuffer';
  const inbox = [];
  const waiters = [];
  let errored = false;
  socket.onerror = () => { errored = true; };
  socket.onmessage = (event) => {
    const waiter = waiters.shift();
    if (waiter) waiter(event.data); else inbox.push(event.data);
  };
  const closed = new Promise((resolve) => {
    socket.onclose = (event) => resolve({ code: event.code, reason: event.reason, wasClean: event.wasClean });
  });
  const next = () => (inbox.length > 0
    ? Promise.resolve(inbox.shift())
    : new Promise((resolve) => waiters.push(resolve)));
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    closed.then((close) => reject(new Error(`closed before opening: ${JSON.stringify(close)}`)));
  });

  const sameBytes = (a, b) => {
    if (!(a instanceof ArrayBuffer) || a.byteLength !== b.byteLength) return false;
    const x = new Uint8Array(a);
    const y = new Uint8Array(b);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    return true;
  };
  const randomBytes = (n) => {
    const bytes = new Uint8Array(n);
    // getRandomValues gives at most 64 KiB at a time.
    for (let at = 0; at < n; at += 65536) crypto.getRandomValues(bytes.subarray(at, at + 65536));
    return bytes.buffer;
  };
  const record = (line) => `a JSON record, as a chat log has them: {"line": ${line}, "room": "general"}\n`;
  let repetitive = '';
  for (let line = 0; repetitive.length < MiB; line++) repetitive += record(line);
  repetitive = repetitive.slice(0, MiB);

  const messages = [
    ['text, 1- to 4-byte UTF-8', 'ASCII, é, €, 😀 and 𝄞'],
    ['empty text', ''],
    ['256 bytes, every value', Uint8Array.from({ length: 256 }, (_, i) => i).buffer],
    ['empty binary', new ArrayBuffer(0)],
    ['1 MiB of repetitive text', repetitive],
    ['1 MiB of random bytes', randomBytes(MiB)],
  ];
  const echoes = [];
  for (const [what, data] of messages) {
    socket.send(data);
    const reply = await next();
    const same = typeof data === 'string' ? reply === data : sameBytes(reply, data);
    const size = typeof data === 'string' ? new TextEncoder().encode(data).length : data.byteLength;
    echoes.push({ what, size, same });
  }
  socket.close(1000, 'done');
  return { extensions: socket.extensions, echoes, close: await closed, errored };
}

test('Chromium against ws6455 echo and echo --async: deflate agreed, text, binary, 1 MiB, close', async (t) => {
  const echoes = [
    await startEcho('echo', []),
    await startEcho('echo-async', ['--async']),
  ];
  const site = await startPageServer();
  const browser = await chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS });
  const page = await (await browser.newContext()).newPage();
  try {
    await page.goto(site.url);
    const outcomes = [];
    for (const echo of echoes) {
      const outcome = await page.evaluate(echoInPage, echo.url);
      t.diagnostic(`${echo.url}: extensions "${outcome.extensions}", ${outcome.echoes.length} echoes, `
        + `close ${JSON.stringify(outcome.close)}`);
      // permessage-deflate (RFC 7692) was agreed on Chromium's offer.
      assert.match(outcome.extensions, /^permessage-deflate(;|$)/, `${echo.logPath}: ${outcome.extensions}`);
      assert.deepEqual(outcome.echoes.filter((e) => !e.same), [], `${echo.logPath}: echoes that differ`);
      assert.equal(outcome.echoes.length, 6);
      // RFC 6455 §7.4.1 / §5.5.1: our Close with 1000, answered in kind,
      // and the TCP connection then closed by the server.
      assert.equal(outcome.close.code, 1000, `${echo.logPath}: ${JSON.stringify(outcome.close)}`);
      assert.equal(outcome.close.wasClean, true, `${echo.logPath}: ${JSON.stringify(outcome.close)}`);
      assert.equal(outcome.errored, false);
      outcomes.push(outcome);
    }
    // The two paths of the same engine answer Chromium alike.
    assert.deepEqual(outcomes[1], outcomes[0]);
    for (const echo of echoes) assert.ok(echo.running(), `ws6455 echo exited; see ${echo.logPath}`);
  } catch (failure) {
    const file = path.join(artifacts, 'echo-failure.png');
    await page.screenshot({ path: file, fullPage: true }).catch(() => {});
    console.error(`screenshot: ${file}; servers' logs: ${echoes.map((e) => e.logPath).join(', ')}`);
    throw failure;
  } finally {
    await browser.close();
    await site.close();
    for (const echo of echoes) await echo.kill();
  }
});
