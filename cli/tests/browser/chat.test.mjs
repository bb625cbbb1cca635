// The chat page in real Chromium: two pages in /roomA, one in /roomB.
// A message typed in page 1 reaches page 2 and not page 3; a /nick name
// shows up; after the server is killed and restarted, the pages reconnect
// and deliver again. Then the same chat over https:// and wss://, with a
// certificate from `ws6455 cert`. Then a late joiner on a phone-sized
// screen: the room's history with times, the user list folded into a bar,
// a long word wrapped, markup shown as text. Then a close with 1001. Then
// the Origin check: a page from another origin cannot open a WebSocket to
// the chat until the chat is started with --allowed-origin. Then the rate
// limit: told to slow down, the page rests its send button. On failure,
// screenshots and the server's log are saved in target/browser-test/.
//
// Run with cli/tests/browser/run.sh (installs Chromium and playwright-core).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { binary, chromiumPath, artifacts, CHROMIUM_ARGS, freePort, accepts } from './support.mjs';

const STEP_MS = 15_000;

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
    /** SIGTERM: the chat closes every page with 1001, then exits 0. */
    async terminate() {
      server.kill('SIGTERM');
      assert.equal(await exited, 0);
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

/**
 * Saves a screenshot of each page, `prefix` naming them, and says where
 * they and the server's log `logName` are.
 */
async function saveFailure(pages, prefix, logName) {
  for (const [i, page] of pages.entries()) {
    const file = path.join(artifacts, `${prefix}page${i + 1}-failure.png`);
    await page.screenshot({ path: file, fullPage: true }).catch(() => {});
    console.error(`screenshot: ${file}`);
  }
  console.error(`server log: ${path.join(artifacts, logName)}`);
}

/**
 * A TCP relay from a free port to the chat on `target`, which can play a
 * server going away: `goAway()` sends each WebSocket client (a connection
 * whose request asked for `Upgrade: websocket`) a Close with 1001, as a
 * server shutting down to restart does (RFC 6455 §7.4.1), cuts it from the
 * chat, and refuses new connections until `comeBack()`. Pages must be
 * loaded through the relay, so that their WebSockets go through it too.
 */
async function startRelay(target) {
  const port = await freePort();
  const websockets = new Set();
  let away = false;
  const relay = net.createServer((client) => {
    if (away) {
      client.destroy();
      return;
    }
    const chat = net.connect(target, '127.0.0.1');
    const pair = { client, chat };
    const drop = () => {
      websockets.delete(pair);
      client.destroy();
      chat.destroy();
    };
    client.on('error', drop);
    chat.on('error', drop);
    client.on('close', drop);
    chat.on('close', drop);
    client.once('data', (request) => {
      if (/^upgrade:\s*websocket\s*$/im.test(request.toString('latin1'))) websockets.add(pair);
    });
    client.pipe(chat);
    chat.pipe(client);
  });
  await new Promise((resolve) => relay.listen(port, '127.0.0.1', resolve));
  return {
    port,
    /** Closes every WebSocket with 1001, between frames (the chat is idle). */
    goAway() {
      away = true;
      for (const pair of websockets) {
        websockets.delete(pair);
        const { client, chat } = pair;
        chat.unpipe(client);
        client.unpipe(chat);
        chat.removeAllListeners('close');
        chat.destroy();
        // FIN=1 Close, unmasked, 2-byte payload: the code 1001 (0x03e9).
        client.end(Buffer.from([0x88, 0x02, 0x03, 0xe9]));
        // The browser's Close in answer, and its end, are read and dropped.
        client.resume();
      }
    },
    comeBack() {
      away = false;
    },
    close() {
      for (const { client, chat } of websockets) {
        client.destroy();
        chat.destroy();
      }
      return new Promise((resolve) => relay.close(resolve));
    },
  };
}

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

    // A graceful restart: SIGTERM closes every page with 1001.
    await server.terminate();
    for (const page of pages) await statusMatches(page, /^server restarting — reconnecting…$/);
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

test('chat page: a late joiner on a narrow screen sees history with times, wrapped words and markup as text', async () => {
  fs.mkdirSync(artifacts, { recursive: true });
  const log = fs.openSync(path.join(artifacts, 'server-history.log'), 'w');
  const port = await freePort();
  const server = await startServer(port, log);
  const browser = await chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS });
  const pages = [];
  try {
    const early = await (await browser.newContext()).newPage();
    pages.push(early);
    await early.goto(`http://127.0.0.1:${port}/history`);
    await statusMatches(early, /^connected to #history as guest-\d+$/);
    // The longest name there is: 32 characters.
    const name = 'n'.repeat(32);
    await type(early, `/nick ${name}`);
    await statusMatches(early, new RegExp(`^connected to #history as ${name}$`));
    const markup = '<a href="x">link</a> <b>bold</b> https://example.com';
    for (const text of ['first words', markup]) {
      await type(early, text);
      await seesMessage(early, name, text);
    }

    // The late joiner, on a phone-sized screen.
    const late = await (await browser.newContext({ viewport: { width: 400, height: 700 } })).newPage();
    pages.push(late);
    await late.goto(`http://127.0.0.1:${port}/history`);
    await statusMatches(late, /^connected to #history as guest-\d+$/);
    await seesMessage(late, name, 'first words');
    await seesMessage(late, name, markup);
    // History is marked as earlier, in order, before the joining notice.
    const lines = await late.locator('#messages li').evaluateAll((items) =>
      items.map((li) => [li.className, li.querySelector('.text').textContent]));
    assert.deepEqual(lines.slice(0, 3), [
      ['notice', 'earlier in #history:'],
      ['theirs earlier', 'first words'],
      ['theirs earlier', markup],
    ]);
    assert.equal(lines[3][0], 'notice');
    assert.match(lines[3][1], /^you joined #history as guest-\d+$/);
    // Markup and links are text: no element made from them.
    assert.equal(await late.locator('#messages a, #messages b').count(), 0);

    // Each message shows its time, HH:MM in local time, from its ts.
    const live = 'said while the late joiner is here';
    await type(early, live);
    await seesMessage(late, name, live);
    const times = await late.locator('#messages li:not(.notice) time').evaluateAll((items) =>
      items.map((time) => {
        const at = new Date(time.dateTime);
        const hhmm = [at.getHours(), at.getMinutes()].map((n) => String(n).padStart(2, '0')).join(':');
        return { shown: time.textContent, hhmm, age: Date.now() - at.getTime() };
      }));
    assert.equal(times.length, 3);
    for (const { shown, hhmm, age } of times) {
      assert.equal(shown, hhmm);
      assert.ok(age >= -60_000 && age < 60_000, `${age} ms old`);
    }

    // The user list is a folded bar with a count; its button opens and
    // closes it.
    const toggle = late.locator('#users-toggle');
    assert.equal(await late.locator('#users').isVisible(), false);
    assert.equal(await toggle.isVisible(), true);
    assert.match(await toggle.textContent(), /In this room: 2/);
    await toggle.click();
    assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
    await late.locator('#users li', { hasText: name }).waitFor({ timeout: STEP_MS });
    await toggle.click();
    assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
    assert.equal(await late.locator('#users').isVisible(), false);
    // On a wide screen the list is always shown, and no button.
    assert.equal(await early.locator('#users').isVisible(), true);
    assert.equal(await early.locator('#users-toggle').isVisible(), false);

    // A long unbroken word wraps inside the line; the name stays whole.
    const word = 'w'.repeat(300);
    await type(early, word);
    await seesMessage(late, name, word);
    const layout = await late.locator('#messages li', { hasText: word }).evaluate((li) => {
      const from = li.querySelector('.from');
      return {
        scrollWidth: li.scrollWidth,
        clientWidth: li.clientWidth,
        listOverflows: li.parentElement.scrollWidth > li.parentElement.clientWidth,
        nameLines: from.getClientRects().length,
        nameHeight: from.getBoundingClientRect().height,
        lineHeight: parseFloat(getComputedStyle(from).lineHeight),
        textLines: li.querySelector('.text').getClientRects().length,
      };
    });
    assert.ok(layout.scrollWidth <= layout.clientWidth, JSON.stringify(layout));
    assert.equal(layout.listOverflows, false);
    assert.equal(layout.nameLines, 1, JSON.stringify(layout));
    assert.ok(layout.nameHeight < 1.5 * layout.lineHeight, JSON.stringify(layout));
    assert.ok(layout.textLines > 1, `the word wrapped: ${JSON.stringify(layout)}`);
  } catch (failure) {
    await saveFailure(pages, 'history-', 'server-history.log');
    throw failure;
  } finally {
    await browser.close();
    await server.kill();
    fs.closeSync(log);
  }
});

test('chat page: a close with 1001 shows "server restarting — reconnecting…", and it comes back without repeating history', async () => {
  fs.mkdirSync(artifacts, { recursive: true });
  const log = fs.openSync(path.join(artifacts, 'server-1001.log'), 'w');
  const port = await freePort();
  const server = await startServer(port, log);
  // A relay in front of the chat sends one page the 1001 a shutting-down
  // server sends, while the chat itself, and so the room and its history,
  // stays up for the page to come back to.
  const relay = await startRelay(port);
  const browser = await chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS });
  const pages = [];
  try {
    // The watcher connects to the chat directly: it stays, and so does the
    // room's history.
    const watcher = await (await browser.newContext()).newPage();
    pages.push(watcher);
    await watcher.goto(`http://127.0.0.1:${port}/restart`);
    await statusMatches(watcher, /^connected to #restart as guest-\d+$/);
    await type(watcher, '/nick eve');
    await statusMatches(watcher, /^connected to #restart as eve$/);

    const page = await (await browser.newContext()).newPage();
    pages.push(page);
    await page.goto(`http://127.0.0.1:${relay.port}/restart`);
    await statusMatches(page, /^connected to #restart as guest-\d+$/);
    await type(page, '/nick dave');
    await statusMatches(page, /^connected to #restart as dave$/);
    await type(page, 'before the restart');
    await seesMessage(page, 'dave', 'before the restart');

    relay.goAway();
    await statusMatches(page, /^server restarting — reconnecting…$/);
    await page.locator('#messages li', { hasText: /^disconnected \(1001\)$/ }).waitFor({ timeout: STEP_MS });
    await watcher.locator('#messages li', { hasText: /^dave left$/ }).waitFor({ timeout: STEP_MS });
    await type(watcher, 'while dave was away');
    await seesMessage(watcher, 'eve', 'while dave was away');
    // Tries that fail while the server is away keep saying why.
    await page.waitForTimeout(1500);
    assert.equal(await page.textContent('#status'), 'server restarting — reconnecting…');
    relay.comeBack();

    // Back, with its name asked for again. Of the room's history it shows
    // only what it missed.
    await statusMatches(page, /^connected to #restart as dave$/);
    await seesMessage(page, 'eve', 'while dave was away');
    assert.equal(await page.locator('#messages li.earlier', { hasText: 'while dave was away' }).count(), 1);
    assert.equal(await page.locator('#messages li', { hasText: 'before the restart' }).count(), 1);
    assert.equal(await page.locator('#messages li', { hasText: /^earlier in #restart:$/ }).count(), 1);
    await type(page, 'after the restart');
    await seesMessage(watcher, 'dave', 'after the restart');
  } catch (failure) {
    await saveFailure(pages, '1001-', 'server-1001.log');
    throw failure;
  } finally {
    await browser.close();
    await relay.close();
    await server.kill();
    fs.closeSync(log);
  }
});

/**
 * A page on another origin than the chat's: a tiny HTTP server on a free
 * port of 127.0.0.1 whose one page opens a WebSocket to `chatUrl` and
 * keeps what happens to it in `window.outcome`: `open` (with the first
 * message, the chat's welcome) or `closed` (with the code), and whether
 * an error came first.
 */
async function startForeignSite(chatUrl) {
  const page = `<!doctype html><title>another site</title><script>
    window.outcome = { state: 'connecting', error: false };
    const socket = new WebSocket(${JSON.stringify(chatUrl)});
    socket.onerror = () => { window.outcome.error = true; };
    socket.onmessage = (message) => {
      window.outcome = { ...window.outcome, state: 'open', first: JSON.parse(message.data).type };
      socket.close(1000);
    };
    socket.onclose = (close) => {
      if (window.outcome.state === 'connecting') window.outcome = { ...window.outcome, state: 'closed', code: close.code };
    };
  </script>`;
  const site = http.createServer((request, response) => {
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Connection': 'close' });
    response.end(page);
  });
  await new Promise((resolve) => site.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${site.address().port}`,
    close: () => new Promise((resolve) => site.close(resolve)),
  };
}

/** What became of the foreign page's WebSocket, once it opened or closed. */
async function outcomeOf(page) {
  await page.waitForFunction(() => window.outcome.state !== 'connecting', null, { timeout: STEP_MS });
  return page.evaluate(() => window.outcome);
}

/** Waits until the log file `file` has a line that contains `text`. */
async function logShows(file, text) {
  const deadline = Date.now() + STEP_MS;
  while (!fs.readFileSync(file, 'utf8').split('\n').some((line) => line.includes(text))) {
    if (Date.now() > deadline) throw new Error(`no line with ${JSON.stringify(text)} in ${file}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('chat: a page from another origin is refused with 403 until --allowed-origin names it; its own page is not', async () => {
  fs.mkdirSync(artifacts, { recursive: true });
  const logFile = path.join(artifacts, 'server-origin.log');
  const log = fs.openSync(logFile, 'w');
  const port = await freePort();
  const site = await startForeignSite(`ws://127.0.0.1:${port}/elsewhere`);
  let server = await startServer(port, log);
  const browser = await chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS });
  const pages = [];
  try {
    // The chat's own page, by its address and by another name for it:
    // the Origin names the Host either way.
    for (const host of ['127.0.0.1', 'localhost']) {
      const own = await (await browser.newContext()).newPage();
      pages.push(own);
      await own.goto(`http://${host}:${port}/elsewhere`);
      await statusMatches(own, /^connected to #elsewhere as guest-\d+$/);
    }

    // Another site's page: its WebSocket never opens. Chromium sees the
    // 403 (and says so on the page's console); the chat logs why.
    const foreign = await (await browser.newContext()).newPage();
    pages.push(foreign);
    const consoleLines = [];
    foreign.on('console', (message) => consoleLines.push(message.text()));
    await foreign.goto(`${site.origin}/`);
    assert.deepEqual(await outcomeOf(foreign), { state: 'closed', error: true, code: 1006 });
    assert.ok(
      consoleLines.some((line) => line.includes('Unexpected response code: 403')),
      JSON.stringify(consoleLines),
    );
    await logShows(
      logFile,
      `upgrade to /elsewhere refused: 403: pages from origin "${site.origin}" may not connect here`,
    );

    // Told to admit that origin, the chat lets the same page in; its own
    // pages still connect.
    await server.terminate();
    server = await startServer(port, log, ['--allowed-origin', site.origin]);
    await foreign.reload();
    assert.deepEqual(await outcomeOf(foreign), { state: 'open', error: false, first: 'welcome' });
    for (const own of pages.slice(0, 2)) {
      await statusMatches(own, /^connected to #elsewhere as guest-\d+$/);
    }
  } catch (failure) {
    await saveFailure(pages, 'origin-', 'server-origin.log');
    throw failure;
  } finally {
    await browser.close();
    await site.close();
    await server.kill();
    fs.closeSync(log);
  }
});

test('chat page: told to slow down, it disables its send button until it may send again', async () => {
  fs.mkdirSync(artifacts, { recursive: true });
  const log = fs.openSync(path.join(artifacts, 'server-rate.log'), 'w');
  const port = await freePort();
  // One text a second, one at once: the second of two quick ones is over.
  const server = await startServer(port, log, ['--rate', '1', '--burst', '1']);
  const browser = await chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS });
  const pages = [];
  try {
    for (let i = 0; i < 2; i++) {
      const page = await (await browser.newContext()).newPage();
      await page.goto(`http://127.0.0.1:${port}/rate`);
      await statusMatches(page, /^connected to #rate as guest-\d+$/);
      pages.push(page);
    }
    const [fast, other] = pages;
    const sendDisabled = () => fast.locator('#send').isDisabled();
    assert.equal(await sendDisabled(), false);
    await type(fast, 'one');
    await type(fast, 'two');
    await fast.locator('#messages li.error', { hasText: /^slow down: / }).waitFor({ timeout: STEP_MS });
    const heldAt = Date.now();
    assert.equal(await sendDisabled(), true);
    // Meanwhile Enter sends nothing, and what is typed stays.
    await type(fast, 'three');
    assert.equal(await fast.inputValue('#input'), 'three');
    // The button comes back after the server's retry_after_ms (under a
    // second here), held for at least a second.
    await fast.waitForFunction(() => !document.getElementById('send').disabled, null, { timeout: STEP_MS });
    const held = Date.now() - heldAt;
    assert.ok(held >= 500 && held < 3000, `held for ${held} ms`);
    await fast.press('#input', 'Enter');
    await seesMessage(other, 'guest-\\d+', 'three');
    // "two" went over the limit and reached no one.
    const texts = await other.locator('#messages li:not(.notice) .text').allTextContents();
    assert.deepEqual(texts, ['one', 'three']);
    assert.equal(await fast.inputValue('#input'), '');
  } catch (failure) {
    await saveFailure(pages, 'rate-', 'server-rate.log');
    throw failure;
  } finally {
    await browser.close();
    await server.kill();
    fs.closeSync(log);
  }
});
