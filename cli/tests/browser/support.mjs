// What the browser tests share: where the repository, the binary under
// test, Chromium and the failure artifacts are; Chromium's flags for a
// headless run on a CI machine; and, from the Node tests, finding a free
// port and waiting on it.

import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const binary = process.env.WS6455_BIN ?? path.join(root, 'target/debug/ws6455');
export const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const artifacts = path.join(root, 'target/browser-test');

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export { accepts, freePort } from '../../../tests/node/support.mjs';
