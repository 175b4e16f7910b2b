// What the browser tests need: the real `agent-runtime serve --demo` on a free port (with the
// real Claude Code CLI in bubblewrap, answering from the scripted demo model), and Debian's
// Chromium driven by playwright-core.

import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Screenshots land here (CI keeps target/test-artifacts). */
export const artifacts = process.env.AGENT_RUNTIME_TEST_ARTIFACTS ?? join(repoRoot, 'target/test-artifacts/e2e');
mkdirSync(artifacts, { recursive: true });

const binary = process.env.AGENT_RUNTIME_BIN ?? join(repoRoot, 'target/debug/agent-runtime');
const toolsDir = process.env.AGENT_RUNTIME_TEST_TOOLS_DIR ?? join(repoRoot, 'target/agent-tools');
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** How long the server may take to install/check the agent CLI and bind. */
const START_TIMEOUT_MS = 180_000;

/**
 * Starts `agent-runtime serve --demo` on a free loopback port with a fresh data dir.
 * `scenario`: a scenario file for the demo model instead of the built-in one.
 */
export async function startServer({ scenario, name = 'server', port = 0, dataDir: keptDir, store = 'memory' } = {}) {
  if (!existsSync(binary)) throw new Error(`${binary} is missing: cargo build --bin agent-runtime`);
  const dataDir = keptDir ?? mkdtempSync(join(tmpdir(), 'agent-runtime-e2e-'));
  // Sandboxes run as an unprivileged user, who must be able to enter the data dir.
  chmodSync(dataDir, 0o755);
  const args = ['serve', '--demo', '--port', String(port), '--data-dir', dataDir, '--tools-dir', toolsDir];
  if (store === 'memory') args.push('--store', 'memory');
  if (scenario) args.push('--demo-scenario', resolve(repoRoot, scenario));
  const child = spawn(binary, args, {
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'info', NO_COLOR: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  const url = await new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${log}`)), START_TIMEOUT_MS);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      log += chunk;
      const match = /listening on (http:\/\/[\d.:]+)/.exec(log);
      if (match) {
        clearTimeout(timer);
        resolvePromise(match[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}:\n${log}`));
    });
  });
  return {
    url,
    get log() {
      return log;
    },
    dataDir,
    /** Stops the server and keeps its data dir (to start it again on the same port). */
    async kill() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * Starts `agent-runtime serve --demo` with `options` and the browser side by side, into `env`
 * (`env.server`, `env.browser`). Whatever did start is kept there when the other fails, so
 * `stopServerAndBrowser(env)` in `after` stops it.
 */
export async function startServerAndBrowser(env, options) {
  const started = await Promise.allSettled([
    startServer(options).then((s) => (env.server = s)),
    launchBrowser().then((b) => (env.browser = b)),
  ]);
  const failed = started.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Stops what `startServerAndBrowser` started. */
export async function stopServerAndBrowser(env) {
  await env.browser?.close();
  await env.server?.stop();
}

/** A page that fails the test on any uncaught error in the app. */
export async function newPage(browser, errors) {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  return page;
}

export async function screenshot(page, name) {
  // Finite animations (a dialog fading in) are run to their end, so the picture shows the UI.
  await page.screenshot({ path: join(artifacts, `${name}.png`), animations: 'disabled' });
}

/** Creates a session over REST (faster than the dialog when the dialog is not under test). */
/** A port that was free a moment ago. */
export async function freePort() {
  const { createServer } = await import('node:net');
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

export async function createSession(baseUrl, body = {}) {
  const response = await fetch(`${baseUrl}/api/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`create session: ${response.status}`);
  return (await response.json()).sessionId;
}

export async function snapshot(baseUrl, sessionId) {
  const response = await fetch(`${baseUrl}/api/sessions/${sessionId}`);
  if (!response.ok) throw new Error(`snapshot: ${response.status}`);
  return response.json();
}
