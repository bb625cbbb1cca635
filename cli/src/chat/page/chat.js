// The ws6455 chat page: one WebSocket to this page's own path (its room),
// JSON events in, plain text out, and reconnection with backoff. Everything
// from the server goes into the page as text (textContent, text nodes),
// never as HTML: markup and links in a message stay as typed.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const messages = $('messages');
  const usersList = $('users');
  const statusLine = $('status');
  const input = $('input');
  const counter = $('counter');
  const people = $('people');
  const usersToggle = $('users-toggle');
  const sendButton = $('send');

  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const url = `${scheme}//${location.host}${location.pathname}`;

  // Reconnection backoff: 0.5 s doubling to 8 s, with jitter so that many
  // pages do not all come back at the same instant.
  const FIRST_DELAY_MS = 500;
  const MAX_DELAY_MS = 8000;

  let socket = null;
  let failures = 0;
  let me = null;
  // The name this page chose with /nick; asked for again after a reconnect.
  let chosenName = null;
  let users = [];
  // The longest text the server takes, in characters, from its welcome.
  let maxText = null;
  // The last message shown, as JSON: where a welcome's history, after a
  // reconnect, picks up what this page has not shown yet.
  let lastShown = null;
  // The server closed with 1001 (going away): it is restarting.
  let restarting = false;

  const RESTARTING = 'server restarting — reconnecting…';

  // Told to slow down (the server's rate limit), the send button rests for
  // the time the server asks, and at least this long: the server tells a
  // sender at most once a second.
  const MIN_SLOW_DOWN_MS = 1000;
  let slowDownTimer = null;

  /**
   * The server dropped what this page sent over its rate limit: holds the
   * send button (and with it Enter) for `retryAfterMs`, at least
   * MIN_SLOW_DOWN_MS. What is typed meanwhile stays in the input.
   */
  function slowDown(retryAfterMs) {
    sendButton.disabled = true;
    clearTimeout(slowDownTimer);
    slowDownTimer = setTimeout(() => {
      sendButton.disabled = false;
    }, Math.max(retryAfterMs, MIN_SLOW_DOWN_MS));
  }

  /**
   * Keeps the input to the server's limit in characters (not UTF-16 units,
   * which `maxlength` would count), and shows the count near the limit.
   */
  function enforceMaxText() {
    let characters = [...input.value];
    if (maxText !== null && characters.length > maxText) {
      characters = characters.slice(0, maxText);
      input.value = characters.join('');
    }
    const near = maxText !== null && characters.length >= maxText * 0.9;
    counter.textContent = near ? `${characters.length}/${maxText}` : '';
    counter.classList.toggle('full', maxText !== null && characters.length === maxText);
  }

  function setStatus(text, offline) {
    statusLine.textContent = text;
    statusLine.classList.toggle('offline', offline);
  }

  /** Two digits: 7 -> "07". */
  const twoDigits = (n) => String(n).padStart(2, '0');

  /**
   * Adds a line to the messages: a time if `ts` (milliseconds since the
   * epoch) is given, the sender if `from` is, and the text, all as text.
   */
  function addLine(className, from, text, ts = null) {
    const atBottom = messages.scrollHeight - messages.scrollTop - messages.clientHeight < 8;
    const li = document.createElement('li');
    li.className = className;
    if (ts !== null) {
      const at = new Date(ts);
      const time = document.createElement('time');
      time.dateTime = at.toISOString();
      time.title = at.toLocaleString();
      time.textContent = `${twoDigits(at.getHours())}:${twoDigits(at.getMinutes())}`;
      // The spaces are where a line may break: a narrow screen puts the
      // name, or the text, on a line of its own rather than split a word.
      li.append(time, ' ');
    }
    if (from !== null) {
      const name = document.createElement('span');
      name.className = 'from';
      name.textContent = from;
      li.append(name, ' ');
    }
    const body = document.createElement('span');
    body.className = 'text';
    body.textContent = text;
    li.append(body);
    messages.append(li);
    if (atBottom) messages.scrollTop = messages.scrollHeight;
  }

  /** Shows a `message` event; `earlier` if it comes from a welcome's history. */
  function addMessage(event, earlier) {
    const mine = event.from === me || event.from === chosenName;
    const className = `${mine ? 'mine' : 'theirs'}${earlier ? ' earlier' : ''}`;
    addLine(className, event.from, event.text, event.ts);
    lastShown = JSON.stringify(event);
  }

  /**
   * Shows a welcome's history: the room's last messages, oldest first.
   * After a reconnect to the same server, the part this page already shows
   * (up to the last message it showed) is skipped.
   */
  function addHistory(history, room) {
    const seen = history.findIndex((event) => JSON.stringify(event) === lastShown);
    const unseen = history.slice(seen + 1);
    if (unseen.length === 0) return;
    addLine('notice', null, `earlier in #${room}:`);
    for (const event of unseen) addMessage(event, true);
  }

  function renderUsers() {
    usersList.replaceChildren(...users.map((name) => {
      const li = document.createElement('li');
      li.textContent = name;
      if (name === me) li.className = 'me';
      return li;
    }));
    $('user-count').textContent = String(users.length);
  }

  function onEvent(event) {
    switch (event.type) {
      case 'welcome':
        me = event.you;
        users = event.users;
        maxText = event.max_text;
        enforceMaxText();
        $('room').textContent = `#${event.room}`;
        document.title = `#${event.room} · ws6455 chat`;
        restarting = false;
        setStatus(`connected to #${event.room} as ${me}`, false);
        addHistory(event.history ?? [], event.room);
        addLine('notice', null, `you joined #${event.room} as ${me}`);
        if (chosenName !== null && chosenName !== me) socket.send(`/nick ${chosenName}`);
        break;
      case 'message':
        addMessage(event, false);
        break;
      case 'join':
        users.push(event.user);
        addLine('notice', null, `${event.user} joined`);
        break;
      case 'leave':
        users = users.filter((name) => name !== event.user);
        addLine('notice', null, `${event.user} left`);
        break;
      case 'nick':
        users = users.map((name) => (name === event.from ? event.to : name));
        if (event.from === me) {
          me = event.to;
          chosenName = event.to;
          setStatus(`connected to ${$('room').textContent} as ${me}`, false);
        }
        addLine('notice', null, `${event.from} is now ${event.to}`);
        break;
      case 'error':
        addLine('error', null, event.reason);
        // An error with retry_after_ms is the rate limit's "slow down".
        if (typeof event.retry_after_ms === 'number') slowDown(event.retry_after_ms);
        break;
      default:
        return;
    }
    renderUsers();
  }

  function connect() {
    if (restarting) setStatus(RESTARTING, true);
    else setStatus(failures === 0 ? 'connecting…' : 'reconnecting…', failures > 0);
    socket = new WebSocket(url);
    socket.onopen = () => { failures = 0; };
    socket.onmessage = (message) => onEvent(JSON.parse(message.data));
    socket.onclose = (close) => {
      socket = null;
      me = null;
      users = [];
      renderUsers();
      if (close.code !== 1006 || close.reason) {
        addLine('notice', null, `disconnected (${close.code}${close.reason ? `: ${close.reason}` : ''})`);
      }
      const delay = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** failures) * (0.75 + Math.random() / 2);
      failures += 1;
      // 1001 (going away): the server is shutting down to restart. Until a
      // welcome comes, the failed tries while it is down do not hide that.
      if (close.code === 1001) restarting = true;
      if (restarting) setStatus(RESTARTING, true);
      else setStatus(`reconnecting… (next try in ${(delay / 1000).toFixed(1)} s)`, true);
      setTimeout(connect, delay);
    };
  }

  $('composer').addEventListener('submit', (submit) => {
    submit.preventDefault();
    const text = input.value;
    // Nothing to say: whitespace alone is not sent. Nor anything while the
    // server has asked this page to slow down.
    if (text.trim() === '' || sendButton.disabled) return;
    if (socket === null || socket.readyState !== WebSocket.OPEN) {
      addLine('error', null, 'not connected; message not sent');
      return;
    }
    socket.send(text);
    input.value = '';
    enforceMaxText();
  });

  input.addEventListener('input', enforceMaxText);

  // On a narrow screen the user list is a bar that this button opens.
  usersToggle.addEventListener('click', () => {
    const open = people.classList.toggle('open');
    usersToggle.setAttribute('aria-expanded', String(open));
  });

  connect();
})();
