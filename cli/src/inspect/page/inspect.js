// The ws6455 inspector's live page. One WebSocket to /events brings every
// event the inspector sees, one JSON object a message (the lines
// `--record` writes: connection, handshake, frame, message, violation,
// end, dropped), the last ones first when the page connects. The page
// lists the connections, shows the selected one's timeline, and explains
// what is clicked: a frame as the RFC 6455 §5.2 diagram filled in with its
// bits, its payload as sent and unmasked; a message inflated; a violation
// with its section. Everything the peers sent goes into the page as text
// (textContent, text nodes), never as HTML.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const connectionList = $('connections');
  const timeline = $('timeline');
  const earlierButton = $('earlier');
  const forgottenNote = $('forgotten');
  const detailBody = $('detail-body');
  const detailHeading = $('detail-heading');
  const statusLine = $('status');
  const droppedLine = $('dropped');

  const url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/events`;

  // Reconnection backoff: 0.5 s doubling to 8 s.
  const FIRST_DELAY_MS = 500;
  const MAX_DELAY_MS = 8000;
  // The most connections listed: past it, the oldest ended ones go.
  const MAX_CONNECTIONS = 500;
  // The most events the page keeps, and the most characters of their JSON:
  // past either, the oldest go, whichever connection they belong to.
  const MAX_KEPT_EVENTS = 20000;
  const MAX_KEPT_CHARS = 64 << 20;
  // A narrow screen shows the details over the timeline, not beside it.
  const narrow = window.matchMedia('(max-width: 899px)');

  /** Every connection seen, by number: its events and what they tell. */
  const connections = new Map();
  let selected = null;
  // Until a connection is clicked, the newest WebSocket one is shown.
  let following = true;
  // The event whose details are shown, and its row.
  let shown = null;
  let droppedTotal = 0;
  let failures = 0;
  // Every event kept, oldest first, as [connection number, size]; those
  // before `arrivalsStart` are gone. A connection's events are in the
  // same order, so the oldest kept is always the first of its connection's.
  let arrivals = [];
  let arrivalsStart = 0;
  let keptEvents = 0;
  let keptChars = 0;

  const OPCODES = {
    0x0: 'continuation', 0x1: 'text', 0x2: 'binary', 0x8: 'close', 0x9: 'ping', 0xa: 'pong',
  };
  const CLOSE_CODES = {
    1000: 'normal closure', 1001: 'going away', 1002: 'protocol error',
    1003: 'unsupported data', 1005: 'no status received', 1006: 'abnormal closure',
    1007: 'invalid frame payload data', 1008: 'policy violation', 1009: 'message too big',
    1010: 'mandatory extension', 1011: 'internal error', 1012: 'service restart',
    1013: 'try again later', 1014: 'bad gateway', 1015: 'TLS handshake',
  };

  /** The opcode's name, reserved ones too (RFC 6455 §5.2, §11.8). */
  function opcodeName(opcode) {
    if (opcode in OPCODES) return OPCODES[opcode];
    return opcode < 0x8 ? 'reserved non-control' : 'reserved control';
  }

  const closeCodeName = (code) => CLOSE_CODES[code] ?? (code >= 3000 && code <= 4999 ? 'registered or private' : 'not a valid code');

  /** An element with a class and children (strings become text nodes). */
  function el(tag, className, ...children) {
    const element = document.createElement(tag);
    if (className) element.className = className;
    element.append(...children.filter((child) => child !== null && child !== undefined));
    return element;
  }

  const hexToBytes = (hex) => Uint8Array.from(hex.match(/../g) ?? [], (pair) => parseInt(pair, 16));
  const byteHex = (b) => b.toString(16).padStart(2, '0');
  const spacedHex = (bytes) => Array.from(bytes, byteHex).join(' ');
  const seconds = (t) => `${t.toFixed(3)} s`;
  const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
  const side = (from) => (from === 'client' ? 'client → server' : 'server → client');
  const utf8 = new TextDecoder('utf-8');

  /** RFC 6455 §5.3: the payload XORed with the key, byte i with key[i % 4]. */
  function unmask(bytes, keyHex) {
    if (keyHex === null) return bytes;
    const key = hexToBytes(keyHex);
    return bytes.map((b, i) => b ^ key[i % 4]);
  }

  /** A short text preview: at most `max` characters, quoted. */
  function quoted(text, max = 60) {
    const chars = [...text];
    return `"${chars.slice(0, max).join('')}${chars.length > max ? '…' : ''}"`;
  }

  /** A preview in a summary: a long one breaks anywhere (JSON has no spaces). */
  const preview = (text) => el('span', text.length > 24 ? 'preview long' : 'preview', text);

  /** A Close payload (unmasked): its code and reason, as RFC 6455 §5.5.1 lays them out. */
  function closeText(bytes) {
    if (bytes.length === 0) return 'no status code';
    if (bytes.length === 1) return 'one byte: not a status code (a Close body is 0 or at least 2 bytes)';
    const code = (bytes[0] << 8) | bytes[1];
    const reason = utf8.decode(bytes.subarray(2));
    return `${code} (${closeCodeName(code)})${reason ? `, reason ${quoted(reason)}` : ''}`;
  }

  // ---- the state: connections and their events ----

  function connectionOf(conn) {
    let c = connections.get(conn);
    if (c === undefined) {
      c = {
        conn, client: '?', upstream: '', state: 'connecting', upgraded: false,
        frames: 0, violations: 0, events: [], chars: 0, forgotten: 0, item: null, changed: true,
      };
      connections.set(conn, c);
      forgetOldConnections();
    }
    return c;
  }

  function forgetOldConnections() {
    if (connections.size <= MAX_CONNECTIONS) return;
    for (const c of connections.values()) {
      if (c.state !== 'ended' || c.conn === selected) continue;
      connections.delete(c.conn);
      c.item?.remove();
      keptEvents -= c.events.length;
      keptChars -= c.chars;
      if (connections.size <= MAX_CONNECTIONS) return;
    }
  }

  /** Keeps `event` (`size` characters of JSON), forgetting the oldest beyond the bounds. */
  function keep(c, event, size) {
    c.events.push(event);
    c.chars += size;
    arrivals.push([c.conn, size]);
    keptEvents += 1;
    keptChars += size;
    while (keptEvents > MAX_KEPT_EVENTS || keptChars > MAX_KEPT_CHARS) {
      const [conn, oldestSize] = arrivals[arrivalsStart++];
      const oldest = connections.get(conn);
      // A connection forgotten whole was counted out then.
      if (oldest === undefined) continue;
      oldest.events.shift();
      oldest.forgotten += 1;
      oldest.chars -= oldestSize;
      keptEvents -= 1;
      keptChars -= oldestSize;
    }
    if (arrivalsStart > 4096) {
      arrivals = arrivals.slice(arrivalsStart);
      arrivalsStart = 0;
    }
  }

  /** Takes in one event from the inspector, `size` characters of JSON. */
  function onEvent(event, size) {
    if (event.kind === 'dropped') {
      droppedTotal += event.count;
      droppedLine.hidden = false;
      droppedLine.textContent = `${plural(droppedTotal, 'event')} dropped`;
      droppedLine.title = 'This page, or the inspector\'s feed to it, fell behind and skipped them; the relay did not wait.';
      return;
    }
    if (typeof event.conn !== 'number') return;
    const c = connectionOf(event.conn);
    switch (event.kind) {
      case 'connection':
        c.client = event.client;
        c.upstream = event.upstream;
        $('upstream').textContent = `relaying to ${event.upstream}`;
        break;
      case 'handshake': {
        const status = event.response?.status ?? null;
        c.upgraded = status === 101;
        c.state = status === 101 ? 'open' : `refused${status === null ? '' : ` ${status}`}`;
        if (following && c.upgraded) select(c.conn, false);
        break;
      }
      case 'frame':
        c.frames += 1;
        break;
      case 'message':
        break;
      case 'violation':
        c.violations += 1;
        break;
      case 'end':
        c.state = 'ended';
        c.end = event.how;
        break;
      default:
        return;
    }
    keep(c, event, size);
    c.changed = true;
    scheduleRender();
  }

  // ---- rendering, at most ten times a second: a busy connection's
  // events are drawn in batches, and a hidden page draws nothing ----

  const RENDER_EVERY_MS = 100;

  let renderScheduled = false;
  // The most rows the timeline shows at first, the newest: a timeline of
  // many thousand rows would be laid out again at every update. "Show
  // earlier events" raises it.
  const ROWS_SHOWN = 1000;
  let rowLimit = ROWS_SHOWN;
  // The connection whose events the timeline shows, and the index (counted
  // from its first event ever) of the next one to add.
  let timelineOf = null;
  let timelineNext = 0;

  function scheduleRender() {
    if (renderScheduled) return;
    renderScheduled = true;
    setTimeout(() => requestAnimationFrame(() => {
      renderScheduled = false;
      renderConnections();
      renderTimeline();
    }), RENDER_EVERY_MS);
  }

  function renderConnections() {
    $('no-connections').hidden = connections.size > 0;
    for (const c of connections.values()) {
      if (!c.changed) continue;
      c.changed = false;
      if (c.item === null) {
        c.item = el('li');
        // Newest first.
        connectionList.prepend(c.item);
      }
      const button = el('button', 'conn');
      button.type = 'button';
      button.addEventListener('click', () => select(c.conn, true));
      if (c.conn === selected) button.setAttribute('aria-current', 'true');
      const counts = [];
      if (c.upgraded) counts.push(plural(c.frames, 'frame'));
      const state = el('span', `state ${c.upgraded ? 'ws' : 'other'} ${c.state.split(' ')[0]}`, c.state);
      const violations = c.violations > 0 ? el('span', 'badge', plural(c.violations, 'violation')) : null;
      button.append(
        el('span', 'conn-head', el('strong', null, `#${c.conn}`), ' ', el('span', 'client', c.client)),
        el('span', 'conn-facts', state, counts.length ? ` ${counts.join(', ')}` : '', violations ? ' ' : '', violations),
      );
      // A request that was not an upgrade (a page, a script): how it went.
      if (!c.upgraded && c.end) button.append(el('span', 'conn-end', c.end));
      c.item.className = c.upgraded ? 'websocket' : 'plain';
      c.item.replaceChildren(button);
    }
  }

  /** Shows connection `conn`; `chosen` if a person clicked it. */
  function select(conn, chosen) {
    if (chosen) following = false;
    if (selected === conn) {
      if (chosen && narrow.matches) $('timeline-pane').scrollIntoView({ block: 'start' });
      return;
    }
    const before = connections.get(selected);
    if (before) before.changed = true;
    selected = conn;
    const c = connections.get(conn);
    if (c) c.changed = true;
    scheduleRender();
    if (chosen && narrow.matches) requestAnimationFrame(() => $('timeline-pane').scrollIntoView({ block: 'start' }));
  }

  function renderTimeline() {
    const c = connections.get(selected);
    if (c === undefined) return;
    if (timelineOf !== c.conn) {
      timeline.replaceChildren();
      timelineOf = c.conn;
      timelineNext = 0;
      rowLimit = ROWS_SHOWN;
      $('timeline-heading').textContent = `Timeline of #${c.conn}, from ${c.client}`;
    }
    const atBottom = timelineAtBottom();
    const end = c.forgotten + c.events.length;
    // Only the newest `rowLimit` events kept get rows.
    const first = Math.max(c.forgotten, end - rowLimit);
    const rows = [];
    for (let i = Math.max(timelineNext, first); i < end; i++) rows.push(row(c.events[i - c.forgotten], i));
    timelineNext = end;
    // The rows before `first` go, all at once.
    const shownFirst = Number(timeline.firstElementChild?.dataset.index ?? end);
    const stale = Math.min(first - shownFirst, timeline.childElementCount);
    if (stale === timeline.childElementCount) {
      timeline.replaceChildren(...rows);
    } else {
      if (stale > 0) {
        const range = document.createRange();
        range.setStartBefore(timeline.firstElementChild);
        range.setEndAfter(timeline.children[stale - 1]);
        range.deleteContents();
      }
      timeline.append(...rows);
    }
    forgottenNote.hidden = c.forgotten === 0;
    forgottenNote.textContent = `${plural(c.forgotten, 'earlier event')} of this connection, no longer kept: `
      + `the page keeps the last ${MAX_KEPT_EVENTS} of all connections (--record keeps every one).`;
    earlierButton.hidden = first === c.forgotten;
    earlierButton.textContent = `Show earlier events (${first - c.forgotten} more)`;
    if (atBottom && rows.length) scrollTimelineToBottom();
  }

  // Shows up to ROWS_SHOWN events more, before those shown, and keeps the
  // first of these in view.
  earlierButton.addEventListener('click', () => {
    const anchor = timeline.firstElementChild?.dataset.index;
    rowLimit += ROWS_SHOWN;
    timeline.replaceChildren();
    timelineNext = 0;
    renderTimeline();
    timeline.querySelector(`li[data-index="${anchor}"]`)?.scrollIntoView({ block: 'start' });
  });

  /** Whether the timeline shows its end (its pane's, or the page's on a narrow screen). */
  function timelineAtBottom() {
    const pane = narrow.matches ? document.scrollingElement : $('timeline-pane');
    return pane.scrollHeight - pane.scrollTop - pane.clientHeight < 24;
  }

  function scrollTimelineToBottom() {
    if (narrow.matches) return;
    const pane = $('timeline-pane');
    pane.scrollTop = pane.scrollHeight;
  }

  /** The side an event belongs to, for its colour: who sent it, or who broke the rule. */
  const sideOf = (event) => event.from ?? event.by ?? 'both';

  function row(event, index) {
    const item = el('li', `${event.kind} ${sideOf(event)}`);
    item.dataset.index = String(index);
    const button = el('button', 'row');
    button.type = 'button';
    const meta = el('span', 'meta', el('span', 't', seconds(event.t)), ' ');
    switch (event.kind) {
      case 'frame':
        meta.append(el('span', 'dir', side(event.from)), ' ', el('span', 'label', `${opcodeName(event.opcode)} frame`));
        break;
      case 'message':
        meta.append(el('span', 'dir', side(event.from)), ' ', el('span', 'label', `${event.type} message`));
        break;
      case 'violation':
        meta.append(el('span', 'label', `VIOLATION by the ${event.by}`), ' ', el('span', 'rfc', event.rfc));
        break;
      default:
        meta.append(el('span', 'label', event.kind));
    }
    button.append(meta, el('span', 'summary', ...summary(event)));
    button.addEventListener('click', () => showDetails(event, item));
    item.append(button);
    if (shown === event) item.classList.add('selected');
    return item;
  }

  /** A timeline row's line: text, and a preview of the payload. */
  function summary(event) {
    switch (event.kind) {
      case 'connection':
        return [`from ${event.client}, relayed to ${event.upstream}`];
      case 'handshake': {
        const response = event.response ? event.response.line : 'no response';
        let text = `${event.request.line} → ${response}`;
        if (event.deflate) text += '; permessage-deflate';
        if (event.subprotocol) text += `; subprotocol ${event.subprotocol}`;
        return [text];
      }
      case 'frame':
        return frameSummary(event);
      case 'message':
        return messageSummary(event);
      case 'violation':
        return [`${event.what}; ${consequence(event)}`];
      case 'end':
        return [event.how];
      default:
        return [];
    }
  }

  const sentence = (text) => text.charAt(0).toUpperCase() + text.slice(1);

  /** What a strict receiver does about a violation. */
  function consequence(violation) {
    const receiver = violation.by === 'client' ? 'server' : 'client';
    if (violation.close_code !== null) return `a strict ${receiver} closes with ${violation.close_code}`;
    if (violation.status !== null) return `a strict ${receiver} refuses it with ${violation.status}`;
    return `a strict ${receiver} fails the connection`;
  }

  /** A frame's header bits in the `--trace` form, and the start of its payload. */
  function frameSummary(frame) {
    const rsv = `${+frame.rsv1}${+frame.rsv2}${+frame.rsv3}`;
    let text = `FIN=${+frame.fin} RSV1-3=${rsv} opcode=0x${frame.opcode.toString(16)} MASK=${+frame.masked}`;
    if (frame.key !== null) text += ` key=${frame.key}`;
    text += ` len=${frame.length}`;
    if (frame.length === 0) return [text];
    const payload = unmask(hexToBytes(frame.payload_hex), frame.key);
    if (frame.opcode === 0x8) return [`${text}: ${closeText(payload)}`];
    if (frame.rsv1 || frame.rsv2 || frame.rsv3) return [`${text} (compressed)`];
    if (frame.opcode === 0x1 || frame.opcode === 0x0) return [`${text} `, preview(quoted(utf8.decode(payload)))];
    return [`${text} ${spacedHex(payload.subarray(0, 8))}${payload.length > 8 ? ' …' : ''}`];
  }

  function messageSummary(message) {
    let text = message.compressed
      ? `compressed: ${message.wire_length} bytes on the wire, ${message.length} inflated, in ${plural(message.frames, 'frame')}`
      : `${plural(message.length, 'byte')} in ${plural(message.frames, 'frame')}`;
    if (message.type === 'close') {
      const code = message.close_code ?? null;
      text += code === null ? ': no status code' : `: ${code} (${closeCodeName(code)})`;
      return message.text ? [`${text}, reason `, preview(quoted(message.text))] : [text];
    }
    if (message.text !== undefined) return [`${text}: `, preview(quoted(message.text, 120))];
    if (message.data_hex) {
      const data = hexToBytes(message.data_hex.slice(0, 16));
      return [`${text}: ${spacedHex(data)}${message.length > data.length ? ' …' : ''}`];
    }
    return [text];
  }

  // ---- the details of one event ----

  function showDetails(event, item) {
    timeline.querySelector('li.selected')?.classList.remove('selected');
    item.classList.add('selected');
    shown = event;
    const parts = {
      connection: connectionDetails,
      handshake: handshakeDetails,
      frame: frameDetails,
      message: messageDetails,
      violation: violationDetails,
      end: endDetails,
    }[event.kind](event);
    detailHeading.textContent = parts.heading;
    detailBody.replaceChildren(...parts.body);
    document.body.classList.add('showing-details');
    if (narrow.matches) window.scrollTo(0, 0);
    $('detail').scrollTop = 0;
  }

  $('detail-close').addEventListener('click', () => {
    document.body.classList.remove('showing-details');
    timeline.querySelector('li.selected button')?.focus();
  });

  /** A list of facts: [term, description] pairs. */
  function facts(pairs) {
    const list = el('dl', 'facts');
    for (const [term, description] of pairs) list.append(el('dt', null, term), el('dd', null, description));
    return list;
  }

  function connectionDetails(event) {
    return {
      heading: `Connection #${event.conn}`,
      body: [facts([['at', seconds(event.t)], ['client', event.client], ['relayed to', event.upstream]])],
    };
  }

  function endDetails(event) {
    return { heading: `End of #${event.conn}`, body: [facts([['at', seconds(event.t)], ['how', event.how]])] };
  }

  function headerTable(headers, forwardedHost) {
    const table = el('table', 'headers');
    for (const [name, value] of headers) {
      const cell = el('td', null, value);
      if (forwardedHost !== undefined && name.toLowerCase() === 'host') {
        cell.append(el('span', 'note', ` (forwarded as ${forwardedHost})`));
      }
      table.append(el('tr', null, el('th', null, name), cell));
    }
    return table;
  }

  function handshakeDetails(event) {
    const request = event.request;
    const body = [el('h3', null, 'Request (client → server, RFC 6455 §4.1)'), el('p', 'mono', request.line)];
    if (request.forwarded_line !== request.line) body.push(el('p', 'note', `forwarded as ${request.forwarded_line}`));
    body.push(headerTable(request.headers, request.forwarded_host));
    body.push(el('h3', null, 'Response (server → client, RFC 6455 §4.2.2)'));
    if (event.response) {
      body.push(el('p', 'mono', event.response.line), headerTable(event.response.headers));
    } else {
      body.push(el('p', null, 'no response'));
    }
    if (event.response?.status === 101) {
      const d = event.deflate;
      const deflate = d
        ? `permessage-deflate (RFC 7692): the client's window ${d.client_max_window_bits} bits, `
          + `${d.client_no_context_takeover ? 'without' : 'with'} context takeover; the server's `
          + `${d.server_max_window_bits} bits, ${d.server_no_context_takeover ? 'without' : 'with'} context takeover`
        : 'no permessage-deflate';
      body.push(el('h3', null, 'Agreed'), facts([
        ['subprotocol', event.subprotocol ?? 'none'],
        ['extensions', deflate],
      ]));
    }
    return { heading: `Opening handshake of #${event.conn}`, body };
  }

  function violationDetails(event) {
    const box = el('div', 'violation-box',
      el('p', 'violation-title', `VIOLATION by the ${event.by}`),
      el('p', 'rfc', event.rfc),
      el('p', null, event.what),
      el('p', null, `${sentence(consequence(event))}${event.close_code !== null ? ` (${closeCodeName(event.close_code)})` : ''}.`));
    return { heading: `Violation on #${event.conn}`, body: [box, facts([['at', seconds(event.t)]])] };
  }

  function messageDetails(message) {
    const pairs = [['at', seconds(message.t)], ['type', message.type], ['frames', String(message.frames)]];
    if (message.compressed) {
      const ratio = message.length > 0 ? ` (${((message.wire_length * 100) / message.length).toFixed(1)} %)` : '';
      pairs.push(['compressed', `yes (RSV1, permessage-deflate): ${plural(message.wire_length, 'byte')} on the wire${ratio}`]);
      pairs.push(['inflated', plural(message.length, 'byte')]);
    } else {
      pairs.push(['length', plural(message.length, 'byte')]);
    }
    if (message.type === 'close') {
      const code = message.close_code ?? null;
      pairs.push(['close code', code === null ? 'none' : `${code} (${closeCodeName(code)})`]);
      pairs.push(['reason', message.text ? quoted(message.text, 200) : 'none']);
    }
    const body = [facts(pairs)];
    if (message.type !== 'close' && message.text !== undefined) {
      body.push(el('h3', null, message.compressed ? 'Text, inflated' : 'Text'), el('pre', 'text', message.text));
    } else if (message.data_hex) {
      body.push(el('h3', null, message.compressed ? 'Data, inflated' : 'Data'), dump(hexToBytes(message.data_hex), null));
    }
    if (message.truncated) body.push(el('p', 'note', 'Only its start is shown.'));
    return { heading: `Message · ${side(message.from)} · ${message.type}`, body };
  }

  function frameDetails(frame) {
    const header = hexToBytes(frame.header_hex);
    const sent = hexToBytes(frame.payload_hex);
    const body = [
      facts([['at', seconds(frame.t)], ['from', `the ${frame.from}`], ['header', spacedHex(header)]]),
      el('h3', null, 'Header, field by field (RFC 6455 §5.2)'),
      diagram(frame, header, sent),
      fieldList(frame, header),
      el('h3', null, `Payload: ${plural(frame.length, 'byte')}`),
    ];
    if (frame.length === 0) return { heading: frameHeading(frame), body };
    if (sent.length < frame.length) body.push(el('p', 'note', `The first ${sent.length} of ${frame.length} bytes are shown.`));
    const unmasked = unmask(sent, frame.key);
    body.push(dump(sent, frame.key === null ? null : unmasked));
    if (frame.rsv1 || frame.rsv2 || frame.rsv3) {
      const note = el('p', 'note', 'RSV1 is set: this payload is compressed (permessage-deflate, RFC 7692 §6). ');
      const message = messageOf(frame);
      if (message) {
        const link = el('button', 'link', 'Show the message, inflated');
        link.type = 'button';
        link.addEventListener('click', () => {
          const item = timeline.querySelector(`li[data-index="${message.index}"]`);
          if (item) showDetails(message.event, item);
        });
        note.append(link);
      }
      body.push(note);
    } else if (frame.opcode === 0x8) {
      body.push(el('h3', null, 'As a Close (RFC 6455 §5.5.1)'), el('p', null, closeText(unmasked)));
    } else if (frame.opcode <= 0x2 || frame.opcode >= 0x8) {
      body.push(el('h3', null, frame.key === null ? 'As text (UTF-8)' : 'Unmasked, as text (UTF-8)'), el('pre', 'text', utf8.decode(unmasked)));
    }
    return { heading: frameHeading(frame), body };
  }

  const frameHeading = (frame) => `Frame · ${side(frame.from)} · ${opcodeName(frame.opcode)}`;

  /** The message a frame is part of: the next one from the same side. */
  function messageOf(frame) {
    const c = connections.get(frame.conn);
    if (!c) return null;
    const at = c.events.indexOf(frame);
    for (let i = at + 1; at >= 0 && i < c.events.length; i++) {
      const event = c.events[i];
      if (event.kind === 'message' && event.from === frame.from) return { event, index: c.forgotten + i };
    }
    return null;
  }

  /**
   * The header's fields in wire order (RFC 6455 §5.2): each with its width
   * in bits, what the diagram shows under its name, and what it means.
   */
  function headerFields(frame, header) {
    const len7 = header.length > 1 ? header[1] & 0x7f : 0;
    const opcode = `0x${frame.opcode.toString(16)}`;
    const key = spacedHex(hexToBytes(frame.key ?? ''));
    const rsv = (n, bit) => ({
      name: `RSV${n}`, bits: 1, kind: 'rsv', value: '',
      meaning: `${+bit}: ${bit
        ? (n === 1 ? 'with permessage-deflate, the message is compressed (RFC 7692 §6)' : 'only an extension that defines it may set it (§5.2)')
        : 'no extension\'s meaning'}`,
    });
    const fields = [
      { name: 'FIN', bits: 1, kind: 'fin', value: '', meaning: `${+frame.fin}: ${frame.fin ? 'the last frame of its message' : 'more frames of its message follow'}` },
      rsv(1, frame.rsv1), rsv(2, frame.rsv2), rsv(3, frame.rsv3),
      { name: 'opcode', bits: 4, kind: 'opcode', value: `${opcode} ${opcodeName(frame.opcode)}`, meaning: `${opcode}: ${opcodeName(frame.opcode)}` },
      {
        name: 'MASK', bits: 1, kind: 'mask', value: '',
        meaning: `${+frame.masked}: ${frame.masked ? 'the payload is masked with the key below (§5.3)' : 'the payload is not masked'}`,
      },
      {
        name: 'Payload len', bits: 7, kind: 'len', value: String(len7),
        meaning: len7 === 126 ? '126: the length is in the next 16 bits'
          : len7 === 127 ? '127: the length is in the next 64 bits' : `${len7}: the payload's length, in the 7-bit field`,
      },
    ];
    if (len7 === 126 || len7 === 127) {
      fields.push({
        name: 'Extended payload length', bits: len7 === 126 ? 16 : 64, kind: 'ext', value: String(frame.length),
        meaning: `${frame.length}: the payload's length, in the ${frame.length_field} field`,
      });
    }
    if (frame.masked) {
      fields.push({
        name: 'Masking-key', bits: 32, kind: 'key', value: key,
        meaning: `${key}: payload byte i is XORed with key byte i mod 4`,
      });
    }
    return fields;
  }

  /** The header's bits, most significant first, as the wire carries them. */
  function bitsOf(bytes) {
    const bits = [];
    for (const b of bytes) for (let i = 7; i >= 0; i--) bits.push((b >> i) & 1);
    return bits;
  }

  /**
   * The RFC 6455 §5.2 diagram, filled in: 32 bits a row, a row of the
   * frame's bits above a row of the fields they make, a field that runs
   * past a row's end continued on the next, then where the payload starts.
   */
  function diagram(frame, header, sent) {
    const bits = bitsOf(header);
    const cells = [];
    let at = 0;
    for (const field of headerFields(frame, header)) {
      let left = field.bits;
      let first = true;
      while (left > 0) {
        const width = Math.min(left, 32 - (at % 32));
        cells.push({ field, at, width, first });
        at += width;
        left -= width;
        first = false;
      }
    }
    // The payload: its first bytes finish the last row, as sent.
    const payloadBits = bitsOf(sent.subarray(0, 4));
    let more = frame.length;
    if (frame.length > 0) {
      const bytes = Math.min((32 - (at % 32)) / 8, frame.length);
      cells.push({ field: { name: 'Payload Data', kind: 'payload', value: '' }, at, width: bytes * 8, first: true, payload: true });
      for (let i = 0; i < bytes * 8; i++) bits.push(i < sent.length * 8 ? payloadBits[i] : '·');
      at += bytes * 8;
      more -= bytes;
    }
    const table = el('table', 'diagram');
    table.setAttribute('aria-label', 'The frame header, bit by bit, as in RFC 6455 §5.2');
    const tens = el('tr', 'ruler');
    for (const [label, span] of [['0', 10], ['1', 10], ['2', 10], ['3', 2]]) {
      const th = el('th', null, label);
      th.colSpan = span;
      tens.append(th);
    }
    const ones = el('tr', 'ruler');
    for (let i = 0; i < 32; i++) ones.append(el('th', null, String(i % 10)));
    table.append(el('thead', null, tens, ones));
    const tbody = el('tbody');
    for (let rowStart = 0; rowStart < at; rowStart += 32) {
      const bitRow = el('tr', 'bits');
      const fieldRow = el('tr', 'fields');
      const rowCells = cells.filter((cell) => cell.at >= rowStart && cell.at < rowStart + 32);
      for (const cell of rowCells) {
        for (let i = cell.at; i < cell.at + cell.width; i++) bitRow.append(el('td', cell.field.kind, String(bits[i])));
        fieldRow.append(fieldCell(cell));
      }
      const used = rowCells.reduce((sum, cell) => sum + cell.width, 0);
      if (used < 32) {
        const rest = el('td', 'empty');
        rest.colSpan = 32 - used;
        const restBits = el('td', 'empty');
        restBits.colSpan = 32 - used;
        bitRow.append(restBits);
        fieldRow.append(rest);
      }
      tbody.append(bitRow, fieldRow);
    }
    if (more > 0) {
      const cell = el('td', 'payload more', `Payload Data continued: ${plural(more, 'more byte')}`);
      cell.colSpan = 32;
      tbody.append(el('tr', 'fields', cell));
    }
    table.append(tbody);
    return el('div', 'diagram-box', table);
  }

  function fieldCell(cell) {
    const td = el('td', cell.field.kind);
    td.colSpan = cell.width;
    td.title = cell.field.meaning ?? cell.field.name;
    if (cell.width === 1) {
      // One bit wide: the name letter under letter, as the RFC draws it.
      td.classList.add('narrow');
      td.setAttribute('aria-label', cell.field.name);
      for (const letter of cell.field.name) td.append(el('span', null, letter));
      return td;
    }
    td.append(el('span', 'name', cell.first ? cell.field.name : `${cell.field.name} (continued)`));
    if (cell.first && cell.field.value) td.append(el('span', 'value', cell.field.value));
    if (cell.payload) td.append(el('span', 'value', 'as sent'));
    return td;
  }

  /** The header's fields, one a line, each with its value and what it means. */
  function fieldList(frame, header) {
    const list = el('dl', 'fields-list');
    for (const field of headerFields(frame, header)) {
      list.append(el('dt', field.kind, field.name), el('dd', null, field.meaning));
    }
    return list;
  }

  /** How many bytes a line of a dump shows: fewer on a narrow screen. */
  const bytesPerLine = () => (narrow.matches ? 4 : 8);

  const printable = (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.');

  /**
   * A hex dump in columns: the offset, the bytes as sent, the unmasked
   * bytes beside them (when `unmasked` is given), and the bytes as ASCII.
   */
  function dump(sent, unmasked) {
    const perLine = bytesPerLine();
    const columns = [['offset', []], [unmasked ? 'as sent (masked)' : 'bytes', []]];
    if (unmasked) columns.push(['unmasked', []]);
    columns.push(['text', []]);
    const plain = unmasked ?? sent;
    for (let at = 0; at < sent.length; at += perLine) {
      columns[0][1].push(at.toString(16).padStart(4, '0'));
      columns[1][1].push(spacedHex(sent.subarray(at, at + perLine)));
      if (unmasked) columns[2][1].push(spacedHex(unmasked.subarray(at, at + perLine)));
      columns[columns.length - 1][1].push(Array.from(plain.subarray(at, at + perLine), printable).join(''));
    }
    const box = el('div', `dump columns-${columns.length}`);
    for (const [title, lines] of columns) {
      box.append(el('div', `column ${title.split(' ')[0]}`, el('span', 'column-title', title), el('pre', null, lines.join('\n'))));
    }
    return box;
  }

  // A change of width redraws the details (the dump's lines, the layout).
  narrow.addEventListener('change', () => {
    const item = timeline.querySelector('li.selected');
    if (shown && item) showDetails(shown, item);
  });

  // ---- the WebSocket ----

  function setStatus(text, offline) {
    statusLine.textContent = text;
    statusLine.classList.toggle('offline', offline);
  }

  /** Forgets everything: the inspector sends its history again. */
  function reset() {
    connections.clear();
    connectionList.replaceChildren();
    timeline.replaceChildren();
    timelineOf = null;
    earlierButton.hidden = true;
    forgottenNote.hidden = true;
    shown = null;
    arrivals = [];
    arrivalsStart = 0;
    keptEvents = 0;
    keptChars = 0;
    droppedTotal = 0;
    droppedLine.hidden = true;
  }

  function connect() {
    setStatus(failures === 0 ? 'connecting…' : 'reconnecting…', failures > 0);
    const socket = new WebSocket(url);
    socket.onopen = () => {
      failures = 0;
      reset();
      setStatus('live', false);
    };
    socket.onmessage = (message) => {
      try {
        onEvent(JSON.parse(message.data), message.data.length);
      } catch (e) {
        console.error('ws6455 inspect: an event the page cannot show', e, message.data);
      }
    };
    socket.onclose = () => {
      const delay = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** failures);
      failures += 1;
      setStatus(`disconnected from the inspector; next try in ${(delay / 1000).toFixed(1)} s`, true);
      setTimeout(connect, delay);
    };
  }

  connect();
})();
