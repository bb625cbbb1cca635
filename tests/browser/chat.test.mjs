// The chat page in real Chromium: two pages in /roomA, one in /roomB.
// A message typed in page 1 reaches page 2 and not page 3; a /nick name
// shows up; after the server is killed and restarted, the pages reconnect
// and deliver again. Then the same chat over https:// and wss://, with a
// certificate from `ws6455 cert`. On failure, screenshots and the server's
// log are saved in target/browser-test/.
//
// Run with tests/browser/run.sh (installs Chromium and playwright-core).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const binary = process.env.WS6455_BIN ?? path.join(root, 'target/debug/ws6455');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const artifacts = path.join(root, 'target/browser-test');
const STEP_MS = 15_000;

/** A port nobody listens on right now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

function accepts(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Starts `ws6455 chat` on `port`, with `extra` arguments, and waits until
 * it accepts connections.
 */
async function startServer(port, log, extra = []) {
  const server = spawn(binary, ['chat', '--listen', `127.0.0.1:${port}`, ...extra], {
    stdio: ['ignore', log, log],
  });
  const exited = new Promise((resolve) => server.once('exit', resolve));
  const deadline = Date.now() + STEP_MS;
  while (!(await accepts(port))) {
    if (server.exitCode !== null || Date.now() > deadline) {
      throw new Error(`ws6455 chat did not start on port ${port}; see ${artifacts}/server.log`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    async kill() {
      if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
      await exited;
    },
  };
}

/** Types `text` into the page's input and sends it with Enter. */
async function type(page, text) {
  await page.fill('#input', text);
  await page.press('#input', 'Enter');
}

/** Waits for a chat line from `from` with `text`. */
async function seesMessage(page, from, text) {
  const line = page.locator('#messages li', { hasText: text }).filter({
    has: page.locator('.from', { hasText: new RegExp(`^${from}$`) }),
  });
  await line.first().waitFor({ timeout: STEP_MS });
}

async function statusMatches(page, pattern) {
  await page.waitForFunction(
    (source) => new RegExp(source).test(document.getElementById('status').textContent),
    pattern.source,
    { timeout: STEP_MS },
  );
}

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

test('chat page: rooms, /nick, and reconnecting after a server restart', async () => {
  fs.mkdirSync(artifacts, { recursive: true });
  const log = fs.openSync(path.join(artifacts, 'server.log'), 'w');
  const port = await freePort();
  let server = await startServer(port, log);
  const browser = await chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS });
  const pages = [];
  try {
    for (const room of ['roomA', 'roomA', 'roomB']) {
      // A context each: separate pages as separate people would have.
      const page = await (await browser.newContext()).newPage();
      await page.goto(`http://127.0.0.1:${port}/${room}`);
      await statusMatches(page, new RegExp(`^connected to #${room} as guest-\\d+$`));
      pages.push(page);
    }
    const [page1, page2, page3] = pages;

    await type(page1, '/nick alice');
    await statusMatches(page1, /^connected to #roomA as alice$/);
    await page2.locator('#users li', { hasText: /^alice$/ }).waitFor({ timeout: STEP_MS });

    // Whitespace alone is not sent; the input keeps to max_text (4000
    // characters, from the welcome) and counts near it.
    await type(page1, '   ');
    await page1.fill('#input', 'é'.repeat(4001));
    await page1.dispatchEvent('#input', 'input');
    assert.equal([...(await page1.inputValue('#input'))].length, 4000);
    assert.equal(await page1.textContent('#counter'), '4000/4000');
    await page1.fill('#input', '');
    await page1.dispatchEvent('#input', 'input');
    assert.equal(await page1.textContent('#counter'), '');

    await type(page1, 'hello from alice');
    await seesMessage(page2, 'alice', 'hello from alice');
    // The whitespace before it was not sent: this is alice's only line.
    assert.equal(await page2.locator('#messages li .from', { hasText: /^alice$/ }).count(), 1);
    await seesMessage(page1, 'alice', 'hello from alice');

    // Page 3 (roomB) sends with the button and sees its own message; had
    // alice's reached roomB, it would have arrived first.
    await page3.fill('#input', 'roomB marker');
    await page3.click('#send');
    await page3.locator('#messages li', { hasText: 'roomB marker' }).waitFor({ timeout: STEP_MS });
    assert.equal(await page3.locator('#messages li', { hasText: 'hello from alice' }).count(), 0);
    assert.equal(await page3.locator('#users li', { hasText: /^alice$/ }).count(), 0);

    await server.kill();
    for (const page of pages) await statusMatches(page, /^reconnecting…/);
    server = await startServer(port, log);

    // Page 1 asks for its name again after reconnecting.
    await statusMatches(page1, /^connected to #roomA as alice$/);
    await statusMatches(page2, /^connected to #roomA as guest-\d+$/);
    await statusMatches(page3, /^connected to #roomB as guest-\d+$/);
    await page2.locator('#users li', { hasText: /^alice$/ }).waitFor({ timeout: STEP_MS });
    await type(page1, 'hello after the restart');
    await seesMessage(page2, 'alice', 'hello after the restart');
    await page3.fill('#input', 'second roomB marker');
    await page3.press('#input', 'Enter');
    await page3.locator('#messages li', { hasText: 'second roomB marker' }).waitFor({ timeout: STEP_MS });
    assert.equal(await page3.locator('#messages li', { hasText: 'hello after the restart' }).count(), 0);
  } catch (failure) {
    for (const [i, page] of pages.entries()) {
      const file = path.join(artifacts, `page${i + 1}-failure.png`);
      await page.screenshot({ path: file, fullPage: true }).catch(() => {});
      console.error(`screenshot: ${file}`);
    }
    console.error(`server log: ${path.join(artifacts, 'server.log')}`);
    throw failure;
  } finally {
    await browser.close();
    await server.kill();
    fs.closeSync(log);
  }
});

test('chat page over https:// connects with wss:// on its own', async () => {
  fs.mkdirSync(artifacts, { recursive: true });
  const tls = path.join(artifacts, 'tls');
  execFileSync(binary, ['cert', '--out', tls]);
  const log = fs.openSync(path.join(artifacts, 'server-tls.log'), 'w');
  const port = await freePort();
  const server = await startServer(port, log, [
    '--tls-cert', path.join(tls, 'cert.pem'),
    '--tls-key', path.join(tls, 'key.pem'),
  ]);
  // The certificate is self-signed: Chromium is told to take it.
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: [...CHROMIUM_ARGS, '--ignore-certificate-errors'],
  });
  const pages = [];
  try {
    const sockets = [];
    for (let i = 0; i < 2; i++) {
      const page = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage();
      page.on('websocket', (socket) => sockets.push(socket.url()));
      await page.goto(`https://localhost:${port}/secure`);
      await statusMatches(page, /^connected to #secure as guest-\d+$/);
      pages.push(page);
    }
    assert.deepEqual(sockets, [`wss://localhost:${port}/secure`, `wss://localhost:${port}/secure`]);
    await type(pages[0], '/nick carol');
    await type(pages[0], 'hello over TLS');
    await seesMessage(pages[1], 'carol', 'hello over TLS');
    // Plain http:// on the TLS port gets no page.
    const plain = await (await browser.newContext()).newPage();
    const answered = await plain.goto(`http://localhost:${port}/secure`).then(() => true, () => false);
    assert.equal(answered, false);
  } catch (failure) {
    for (const [i, page] of pages.entries()) {
      const file = path.join(artifacts, `tls-page${i + 1}-failure.png`);
      await page.screenshot({ path: file, fullPage: true }).catch(() => {});
      console.error(`screenshot: ${file}`);
    }
    console.error(`server log: ${path.join(artifacts, 'server-tls.log')}`);
    throw failure;
  } finally {
    await browser.close();
    await server.kill();
    fs.closeSync(log);
  }
});
