// The inspector's live page in real Chromium. `ws6455 chat` runs behind
// `ws6455 inspect --ui`; the chat page is loaded through the inspector
// and says something, and a raw TCP client says "Hello" masked with the
// key of RFC 6455 §5.7's example, then sends an unmasked frame (a client
// MUST mask, §5.1). The live page, opened afterwards (so from the
// inspector's history) at desktop width and at 400 px, must list both
// connections, show the frames of both directions, lay a clicked frame's
// header out as the §5.2 diagram with its bits and values, its payload as
// sent and unmasked, the chat's message inflated, and the violation
// highlighted with its section and close code; and it must show a frame
// that happens while it is open. Every value the page shows is checked
// against what the test sent or against the inspector's own --record.
//
// This test refreshes the committed screenshot of the live page,
// cli/tests/browser/screenshots/inspect.png (desktop width, a frame
// selected), which the README shows. On failure, screenshots and the
// logs are saved in target/browser-test/.
//
// Run with cli/tests/browser/run.sh (installs Chromium and playwright-core).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { root, binary, chromiumPath, artifacts, CHROMIUM_ARGS, freePort, accepts } from './support.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const screenshot = path.join(here, 'screenshots/inspect.png');
const STEP_MS = 15_000;

/**
 * Runs `ws6455 args...` with stdout to `out` and stderr to `err` (file
 * descriptors), and waits until `ready()` says it is.
 */
async function startProgram(args, ready, out, err) {
  const child = spawn(binary, args, { stdio: ['ignore', out, err] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const deadline = Date.now() + STEP_MS;
  while (!(await ready())) {
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`ws6455 ${args[0]} did not start; see ${artifacts}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * A client written by hand, through the inspector: the opening handshake
 * (no extension offered), then RFC 6455 §5.7's masked "Hello", then the
 * same text unmasked, which a client MUST NOT send (§5.1). Resolves with
 * everything the server sent, once it has closed.
 */
function rawClient(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    let upgraded = false;
    socket.on('error', reject);
    socket.on('data', (data) => {
      received = Buffer.concat([received, data]);
      if (!upgraded && received.includes('\r\n\r\n')) {
        upgraded = true;
        assert.match(received.toString('latin1'), /^HTTP\/1\.1 101 /);
        // FIN=1 text, MASK=1, length 5, key 37 fa 21 3d: "Hello".
        socket.write(Buffer.from('818537fa213d7f9f4d5158', 'hex'));
        // The same text unmasked: the inspector reports it, the chat
        // fails the connection with 1002.
        setTimeout(() => socket.write(Buffer.from('810548656c6c6f', 'hex')), 300);
      }
    });
    socket.on('close', () => resolve(received));
    socket.write(
      'GET / HTTP/1.1\r\n'
      + `Host: 127.0.0.1:${port}\r\n`
      + 'Upgrade: websocket\r\nConnection: Upgrade\r\n'
      + 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
  });
}

/** Whether the log file `file` has a line that contains `text`. */
const logShows = (file, text) => fs.readFileSync(file, 'utf8').split('\n').some((line) => line.includes(text));

/** The events the inspector recorded, one JSON object a line. */
function recorded(file) {
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

/** Waits until the recording has an event that `matches`, and returns it. */
async function recordedEvent(file, matches) {
  const deadline = Date.now() + STEP_MS;
  for (;;) {
    const found = recorded(file).find(matches);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no such event in ${file}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const spaced = (hex) => hex.match(/../g).join(' ');
const unmaskedHex = (hex, key) => Buffer.from(hex, 'hex')
  .map((b, i) => b ^ Buffer.from(key, 'hex')[i % 4]).toString('hex');
/** A header's bits, one character each, most significant first. */
const bitsOf = (hex) => [...Buffer.from(hex, 'hex')].map((b) => b.toString(2).padStart(8, '0')).join('');

/** Clicks connection `conn` in the list. */
async function selectConnection(page, conn) {
  await page.locator('#connections button.conn', { hasText: new RegExp(`^#${conn} `) }).click();
  await page.locator('#timeline-heading', { hasText: `Timeline of #${conn},` }).waitFor({ timeout: STEP_MS });
}

/** The timeline's frame row sent by `from` whose summary has `text`. */
const frameRow = (page, from, text) => page.locator(`#timeline li.frame.${from}`, { hasText: text }).first();

/**
 * What the details pane shows of a frame: the diagram's bits (one
 * character a bit, in wire order), its field cells' texts, and the dump's
 * columns.
 */
function shownFrame(page) {
  return page.locator('#detail').evaluate((detail) => ({
    heading: detail.querySelector('#detail-heading').textContent,
    bits: [...detail.querySelectorAll('table.diagram tr.bits td:not(.empty)')].map((td) => td.textContent).join(''),
    fields: [...detail.querySelectorAll('table.diagram tr.fields td:not(.empty)')].map((td) => ({
      name: td.getAttribute('aria-label') ?? td.querySelector('.name')?.textContent ?? td.textContent,
      value: td.querySelector('.value')?.textContent ?? null,
      width: td.colSpan,
    })),
    dump: Object.fromEntries([...detail.querySelectorAll('.dump .column')].map((column) => [
      column.querySelector('.column-title').textContent,
      column.querySelector('pre').textContent.split('\n').join(' '),
    ])),
    text: detail.querySelector('pre.text')?.textContent ?? null,
  }));
}

/** Nothing scrolls sideways: the page, the diagram and the details fit their width. */
async function fitsItsWidth(page) {
  const layout = await page.evaluate(() => ({
    page: [document.documentElement.scrollWidth, document.documentElement.clientWidth],
    diagram: (() => {
      const box = document.querySelector('.diagram-box');
      return box ? [box.scrollWidth, box.clientWidth] : [0, 0];
    })(),
    detail: [document.getElementById('detail').scrollWidth, document.getElementById('detail').clientWidth],
  }));
  for (const [name, [scroll, client]] of Object.entries(layout)) {
    assert.ok(scroll <= client, `${name} scrolls sideways: ${JSON.stringify(layout)}`);
  }
}

test('inspect --ui: the chat through the inspector, every frame on the live page, at desktop width and at 400 px', async () => {
  fs.mkdirSync(artifacts, { recursive: true });
  const [chatPort, inspectPort, uiPort] = [await freePort(), await freePort(), await freePort()];
  const record = path.join(artifacts, 'inspect-record.jsonl');
  const chatLog = fs.openSync(path.join(artifacts, 'inspect-chat.log'), 'w');
  const liveView = fs.openSync(path.join(artifacts, 'inspect-stdout.log'), 'w');
  const inspectLogFile = path.join(artifacts, 'inspect-stderr.log');
  const inspectLog = fs.openSync(inspectLogFile, 'w');
  // The chat page is loaded through the inspector: its WebSocket's Origin
  // is the inspector's, which the chat must be told to admit.
  const chat = await startProgram(
    ['chat', '--listen', `127.0.0.1:${chatPort}`, '--allowed-origin', `http://127.0.0.1:${inspectPort}`],
    () => accepts(chatPort), chatLog, chatLog,
  );
  const inspector = await startProgram([
    'inspect', '--listen', `127.0.0.1:${inspectPort}`,
    '--upstream', `ws://127.0.0.1:${chatPort}/inspected`,
    '--ui', `127.0.0.1:${uiPort}`, '--record', record,
  ], async () => (
    // It says where its page is, once both listen (a probe of the
    // inspector's port would be a connection on the page).
    logShows(inspectLogFile, `listening on ws://127.0.0.1:${inspectPort}`)
      && logShows(inspectLogFile, `the live page is at http://127.0.0.1:${uiPort}/`)
  ), liveView, inspectLog);
  const browser = await chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS });
  const pages = [];
  try {
    // The chat page, through the inspector; GET / goes to /inspected.
    const chatPage = await (await browser.newContext()).newPage();
    pages.push(chatPage);
    await chatPage.goto(`http://127.0.0.1:${inspectPort}/`);
    await chatPage.waitForFunction(
      () => /^connected to #inspected as guest-\d+$/.test(document.getElementById('status').textContent),
      null, { timeout: STEP_MS },
    );
    const said = 'hello through the inspector';
    await chatPage.fill('#input', said);
    await chatPage.press('#input', 'Enter');
    await chatPage.locator('#messages li', { hasText: said }).waitFor({ timeout: STEP_MS });

    // The raw client: "Hello" masked, then unmasked; the chat closes it.
    await rawClient(inspectPort);

    // What the inspector recorded: the two connections and their frames.
    const browserHandshake = await recordedEvent(record, (e) => e.kind === 'handshake'
      && e.request.headers.some(([name]) => name.toLowerCase() === 'origin'));
    const rawHandshake = await recordedEvent(record, (e) => e.kind === 'handshake' && e !== browserHandshake
      && !e.request.headers.some(([name]) => name.toLowerCase() === 'origin'));
    const chromeConn = browserHandshake.conn;
    const rawConn = rawHandshake.conn;
    assert.ok(browserHandshake.deflate, 'Chromium and the chat agree on permessage-deflate');
    const browserFrame = await recordedEvent(record, (e) => e.kind === 'frame' && e.conn === chromeConn
      && e.from === 'client' && e.opcode === 1);
    const browserMessage = await recordedEvent(record, (e) => e.kind === 'message' && e.conn === chromeConn
      && e.from === 'client' && e.type === 'text');
    assert.equal(browserMessage.text, said);
    await recordedEvent(record, (e) => e.kind === 'violation' && e.conn === rawConn);

    // ---- desktop width ----
    const live = await (await browser.newContext({ viewport: { width: 1280, height: 760 } })).newPage();
    pages.push(live);
    await live.goto(`http://127.0.0.1:${uiPort}/`);
    await live.locator('#status', { hasText: /^live$/ }).waitFor({ timeout: STEP_MS });

    // The connections, from the inspector's history: the browser's open,
    // the raw client's with its violation counted.
    const chromeItem = live.locator('#connections button.conn', { hasText: new RegExp(`^#${chromeConn} `) });
    await chromeItem.waitFor({ timeout: STEP_MS });
    assert.match(await chromeItem.textContent(), /127\.0\.0\.1:\d+.*open/);
    const rawItem = live.locator('#connections button.conn', { hasText: new RegExp(`^#${rawConn} `) });
    assert.match(await rawItem.textContent(), /1 violation/);

    // The browser's connection: frames of both directions, the client's
    // masked with its key, compressed (RSV1); the server's unmasked.
    await selectConnection(live, chromeConn);
    const clientFrame = frameRow(live, 'client', `key=${browserFrame.key}`);
    await clientFrame.waitFor({ timeout: STEP_MS });
    assert.match(await clientFrame.textContent(), /text frame.*FIN=1 RSV1-3=100 opcode=0x1 MASK=1/);
    assert.ok(await live.locator('#timeline li.frame.server', { hasText: 'MASK=0' }).count() >= 2);
    assert.notEqual(
      await live.locator('#timeline li.frame.client button').first().evaluate((b) => getComputedStyle(b).backgroundColor),
      await live.locator('#timeline li.frame.server button').first().evaluate((b) => getComputedStyle(b).backgroundColor),
      'the two directions look different',
    );
    // Its header, field by field, and its payload as sent and unmasked.
    await clientFrame.click();
    let frame = await shownFrame(live);
    assert.equal(frame.heading, 'Frame · client → server · text');
    assert.equal(frame.bits.slice(0, browserFrame.header_hex.length * 4), bitsOf(browserFrame.header_hex));
    assert.deepEqual(frame.fields.slice(0, 7).map(({ name, width }) => [name, width]), [
      ['FIN', 1], ['RSV1', 1], ['RSV2', 1], ['RSV3', 1], ['opcode', 4], ['MASK', 1], ['Payload len', 7],
    ]);
    assert.equal(frame.fields[4].value, '0x1 text');
    assert.equal(frame.fields[6].value, String(browserFrame.length));
    assert.equal(frame.fields.find((f) => f.name === 'Masking-key').value, spaced(browserFrame.key));
    assert.equal(frame.dump['as sent (masked)'], spaced(browserFrame.payload_hex));
    assert.equal(frame.dump.unmasked, spaced(unmaskedHex(browserFrame.payload_hex, browserFrame.key)));
    // Compressed: the message it is part of shows the text, inflated.
    await live.locator('#detail button.link', { hasText: 'Show the message, inflated' }).click();
    await live.locator('#detail-heading', { hasText: 'Message · client → server · text' }).waitFor({ timeout: STEP_MS });
    assert.equal(await live.locator('#detail pre.text').textContent(), said);
    assert.match(await live.locator('#detail .facts').textContent(), /compressed.*yes/);
    assert.ok(await live.locator('#timeline li.message.client', { hasText: `"${said}"` }).count() >= 1);

    // A frame that happens while the page is open shows up.
    const later = 'said while the live page watches';
    await chatPage.fill('#input', later);
    await chatPage.press('#input', 'Enter');
    await live.locator('#timeline li.message.client', { hasText: `"${later}"` }).waitFor({ timeout: STEP_MS });
    // The chat's broadcast of it, from the server.
    await live.locator('#timeline li.message.server', { hasText: `"text":"${later}"` }).click({ timeout: STEP_MS });
    assert.match(await live.locator('#detail pre.text').textContent(), new RegExp(`"text":"${later}"`));

    // The raw client: RFC 6455 §5.7's "Hello", every bit of it.
    await selectConnection(live, rawConn);
    await frameRow(live, 'client', 'key=37fa213d').click();
    frame = await shownFrame(live);
    assert.equal(frame.heading, 'Frame · client → server · text');
    // 0x81 0x85, then the key, then the first two payload bytes as sent.
    assert.equal(frame.bits, bitsOf('818537fa213d7f9f'));
    assert.deepEqual(frame.fields.map(({ name, value, width }) => [name, value, width]), [
      ['FIN', null, 1], ['RSV1', null, 1], ['RSV2', null, 1], ['RSV3', null, 1],
      ['opcode', '0x1 text', 4], ['MASK', null, 1], ['Payload len', '5', 7],
      ['Masking-key', '37 fa 21 3d', 16], ['Masking-key (continued)', null, 16],
      ['Payload Data', 'as sent', 16],
      ['Payload Data continued: 3 more bytes', null, 32],
    ]);
    assert.deepEqual(frame.dump, {
      offset: '0000',
      'as sent (masked)': '7f 9f 4d 51 58',
      unmasked: '48 65 6c 6c 6f',
      text: 'Hello',
    });
    assert.equal(frame.text, 'Hello');
    assert.match(await live.locator('#detail .fields-list').textContent(), /FIN1: the last frame.*MASK1: the payload is masked/);
    // The unmasked frame after it: highlighted, with its section and code.
    const violation = live.locator('#timeline li.violation.client');
    assert.match(await violation.textContent(), /VIOLATION by the client.*RFC 6455 §5\.1.*closes with 1002/);
    assert.equal(await violation.locator('button').evaluate((b) => getComputedStyle(b).backgroundColor), 'rgb(255, 235, 233)');
    await violation.click();
    assert.match(await live.locator('#detail .violation-box').textContent(), /RFC 6455 §5\.1.*A strict server closes with 1002 \(protocol error\)/);
    await fitsItsWidth(live);

    // The picture for the README: the raw client's connection, its
    // violation in the timeline, its "Hello" selected.
    await frameRow(live, 'client', 'key=37fa213d').click();
    await live.locator('#detail pre.text', { hasText: /^Hello$/ }).waitFor({ timeout: STEP_MS });
    await live.locator('#timeline-pane').evaluate((pane) => { pane.scrollTop = 0; });
    fs.mkdirSync(path.dirname(screenshot), { recursive: true });
    await live.screenshot({ path: screenshot });
    assert.ok(fs.statSync(screenshot).size < 300 << 10, 'the screenshot stays small');

    // ---- 400 px ----
    const phone = await (await browser.newContext({ viewport: { width: 400, height: 800 } })).newPage();
    pages.push(phone);
    await phone.goto(`http://127.0.0.1:${uiPort}/`);
    await phone.locator('#status', { hasText: /^live$/ }).waitFor({ timeout: STEP_MS });
    await selectConnection(phone, rawConn);
    await fitsItsWidth(phone);
    await phone.screenshot({ path: path.join(artifacts, 'inspect-400-timeline.png'), fullPage: true });
    // The details cover the timeline, with a button back.
    assert.equal(await phone.locator('#detail').isVisible(), false);
    await frameRow(phone, 'client', 'key=37fa213d').click();
    assert.equal(await phone.locator('#detail').isVisible(), true);
    frame = await shownFrame(phone);
    assert.equal(frame.bits, bitsOf('818537fa213d7f9f'));
    assert.equal(frame.dump.unmasked, '48 65 6c 6c 6f');
    assert.equal(frame.text, 'Hello');
    await fitsItsWidth(phone);
    // Every cell of the diagram is inside the screen.
    const right = await phone.locator('table.diagram').evaluate((table) => Math.max(
      ...[...table.querySelectorAll('td')].map((td) => td.getBoundingClientRect().right),
    ));
    assert.ok(right <= 400, `the diagram reaches ${right} px`);
    await phone.screenshot({ path: path.join(artifacts, 'inspect-400-frame.png') });
    await phone.locator('#detail-close').click();
    assert.equal(await phone.locator('#detail').isVisible(), false);
    await phone.locator('#timeline li.violation.client').click();
    await phone.locator('#detail .violation-box', { hasText: 'RFC 6455 §5.1' }).waitFor({ timeout: STEP_MS });
    await fitsItsWidth(phone);
    await phone.screenshot({ path: path.join(artifacts, 'inspect-400-violation.png') });
  } catch (failure) {
    for (const [i, page] of pages.entries()) {
      const file = path.join(artifacts, `inspect-page${i + 1}-failure.png`);
      await page.screenshot({ path: file, fullPage: true }).catch(() => {});
      console.error(`screenshot: ${file}`);
    }
    console.error(`logs: ${artifacts}/inspect-*.log, recording: ${record}`);
    throw failure;
  } finally {
    await browser.close();
    await inspector.kill();
    await chat.kill();
    for (const fd of [chatLog, liveView, inspectLog]) fs.closeSync(fd);
  }
});
