// The web UI in a real browser (Debian's Chromium via playwright-core) against the real
// `agent-runtime serve --demo`: the built-in demo model for the main flow, a slower scenario
// (slow-scenario.json) for reloading mid-turn and stopping. Screenshots go to
// target/test-artifacts/e2e/.
//
// Run: npm --prefix web run e2e (after `cargo build --bin agent-runtime`).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { createSession, freePort, launchBrowser, newPage, screenshot, snapshot, startServer } from './harness.mjs';

/** The text the slow scenario streams for "count slowly" (see slow-scenario.json). */
const COUNT_TEXT =
  'Counting slowly, so there is time to look around: one, two, three, four, five, six, seven, eight, nine, ten, ' +
  'eleven, twelve, thirteen, fourteen, fifteen, sixteen, seventeen, eighteen, nineteen, twenty. Done counting.';

const TURN_TIMEOUT = 60_000;

let demo;
let slow;
let browser;

before(async () => {
  // Started side by side; whatever did start is kept so `after` can stop it on a failure.
  const started = await Promise.allSettled([
    startServer({ name: 'demo server' }).then((s) => (demo = s)),
    startServer({ name: 'slow demo server', scenario: 'web/e2e/slow-scenario.json' }).then((s) => (slow = s)),
    launchBrowser().then((b) => (browser = b)),
  ]);
  const failed = started.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
});

after(async () => {
  await browser?.close();
  await Promise.all([demo?.stop(), slow?.stop()]);
});

test('create a session, send a message, see the answer stream, a tool card and the new file', async () => {
  const errors = [];
  const page = await newPage(browser, errors);
  await page.goto(demo.url);
  await page.getByTestId('demo-banner').waitFor();
  await page.getByTestId('connection').and(page.locator('[data-state="open"]')).waitFor();
  await screenshot(page, '01-home');

  await page.getByTestId('new-session').click();
  await page.getByTestId('new-session-dialog').waitFor();
  await screenshot(page, '02-new-session-dialog');
  await page.getByTestId('create-session').click();
  await page.waitForURL(/\/sessions\/[^/]+$/);
  const sessionId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop());

  await page.getByTestId('composer-input').fill('create hello.txt');
  await page.getByTestId('composer-input').press('Enter');
  // The optimistic copy shows at once; the server's echo replaces it.
  await page.getByTestId('block-user_message').filter({ hasText: 'create hello.txt' }).waitFor();

  const tool = page.getByTestId('tool-card').filter({ hasText: 'Write' });
  await tool.waitFor({ timeout: TURN_TIMEOUT });
  await page.locator('[data-testid="file-node"][data-path="hello.txt"]').waitFor({ timeout: TURN_TIMEOUT });
  await page.locator('[data-testid="session"][data-status="idle"]').waitFor({ timeout: TURN_TIMEOUT });
  await assertToolDone(tool);
  const texts = await page.getByTestId('block-assistant_text').allTextContents();
  assert.ok(texts.some((t) => t.includes("I'll create hello.txt")), texts.join('\n'));
  assert.ok(texts.some((t) => t.includes('Done! I created hello.txt')), texts.join('\n'));
  assert.equal(await page.getByTestId('block-user_message').count(), 1);
  assert.equal(await page.getByTestId('block-thinking').count(), 2);
  // Named after the first message, in the header and the list.
  await page.getByTestId('session-title').filter({ hasText: 'create hello.txt' }).waitFor();
  await page.getByTestId('usage').waitFor();
  await screenshot(page, '03-turn-complete');

  await tool.locator('button').first().click();
  await page.getByTestId('tool-result').filter({ hasText: 'File created successfully' }).waitFor();
  await page.getByTestId('block-thinking').first().locator('button').click();
  await screenshot(page, '04-tool-and-thinking-expanded');

  await page.locator('[data-testid="file-node"][data-path="hello.txt"]').click();
  await page.getByTestId('file-content').filter({ hasText: 'Hello from the agent-runtime demo model!' }).waitFor();
  await screenshot(page, '05-file-viewer');

  const state = await snapshot(demo.url, sessionId);
  assert.deepEqual(
    state.files.map((f) => f.path),
    ['hello.txt'],
  );
  assert.deepEqual(errors, []);
  await page.close();
});

test('reloading mid-turn continues the turn with nothing lost or doubled', async () => {
  const errors = [];
  const sessionId = await createSession(slow.url, { name: 'Reload mid-turn' });
  const page = await newPage(browser, errors);
  // A deep link: the server answers client routes with the UI.
  await page.goto(`${slow.url}/sessions/${sessionId}`);
  await page.getByTestId('connection').and(page.locator('[data-state="open"]')).waitFor();
  await page.getByTestId('composer-input').fill('count slowly');
  await page.getByTestId('composer-input').press('Enter');

  const streaming = page.locator('[data-testid="block-assistant_text"][data-streaming="true"]');
  await streaming.filter({ hasText: 'three' }).waitFor({ timeout: TURN_TIMEOUT });
  const before = await streaming.textContent();
  assert.ok(!before.includes('Done counting'), 'the turn should still be running before the reload');
  await screenshot(page, '06-before-reload');

  await page.reload();
  // Straight back into the running turn: the snapshot, then the rest live.
  await page.locator('[data-testid="session"][data-status="running"]').waitFor({ timeout: 10_000 });
  await streaming.waitFor({ timeout: 10_000 });
  await screenshot(page, '07-after-reload-still-streaming');
  await page.locator('[data-testid="session"][data-status="idle"]').waitFor({ timeout: TURN_TIMEOUT });
  await screenshot(page, '08-after-reload-complete');

  const texts = await page.getByTestId('block-assistant_text').allTextContents();
  assert.deepEqual(texts, [COUNT_TEXT]);
  assert.equal(await page.getByTestId('block-user_message').count(), 1);
  assert.equal(await page.getByTestId('block-thinking').count(), 1);
  const state = await snapshot(slow.url, sessionId);
  const assistant = state.blocks.filter((b) => b.type === 'assistant_text');
  assert.deepEqual(
    assistant.map((b) => b.text),
    [COUNT_TEXT],
  );
  assert.deepEqual(errors, []);
  await page.close();
});

test('stop interrupts the turn on the server and the UI shows it ended', async () => {
  const errors = [];
  const sessionId = await createSession(slow.url, { name: 'Stop me' });
  const page = await newPage(browser, errors);
  await page.goto(`${slow.url}/sessions/${sessionId}`);
  await page.getByTestId('connection').and(page.locator('[data-state="open"]')).waitFor();
  await page.getByTestId('composer-input').fill('count slowly');
  await page.getByTestId('composer-input').press('Enter');
  const streaming = page.locator('[data-testid="block-assistant_text"][data-streaming="true"]');
  await streaming.filter({ hasText: 'two' }).waitFor({ timeout: TURN_TIMEOUT });
  await screenshot(page, '09-streaming-with-stop-button');

  await page.getByTestId('stop').click();
  await page.getByTestId('turn-interrupted').first().waitFor({ timeout: 20_000 });
  await page.locator('[data-testid="session"][data-status="idle"]').waitFor({ timeout: 20_000 });
  await screenshot(page, '10-stopped');

  const text = (await page.getByTestId('block-assistant_text').allTextContents()).join('');
  assert.ok(!text.includes('Done counting'), `the answer should have been cut short: ${text}`);
  assert.ok(COUNT_TEXT.startsWith(text.trim()) || text.length < COUNT_TEXT.length, text);
  // The composer is usable again, and the connection stayed up (stop is not disconnect).
  await page.getByTestId('send').waitFor();
  assert.equal(await page.getByTestId('connection').getAttribute('data-state'), 'open');

  const state = await snapshot(slow.url, sessionId);
  assert.equal(state.runtime.activeTurnId, undefined);
  assert.deepEqual(errors, []);
  await page.close();
});

async function assertToolDone(tool) {
  assert.equal(await tool.getAttribute('data-status'), 'success');
  assert.match(await tool.getByTestId('tool-status').textContent(), /Done/);
}

test('a subagent shows as a card with its own thread', async () => {
  const errors = [];
  const sessionId = await createSession(slow.url, { name: 'Delegation' });
  const page = await newPage(browser, errors);
  await page.goto(`${slow.url}/sessions/${sessionId}`);
  await page.getByTestId('connection').and(page.locator('[data-state="open"]')).waitFor();
  await page.getByTestId('composer-input').fill('please delegate this');
  await page.getByTestId('composer-input').press('Enter');
  const card = page.getByTestId('subagent');
  await card.waitFor({ timeout: TURN_TIMEOUT });
  await page.locator('[data-testid="session"][data-status="idle"]').waitFor({ timeout: TURN_TIMEOUT });
  assert.match(await card.textContent(), /general-purpose.*Look around the workspace.*Done/);
  // The Agent call itself is shown by the card, not twice.
  assert.equal(await page.getByTestId('tool-card').count(), 0);
  await card.locator('button').first().click();
  await card.getByTestId('subagent-prompt').filter({ hasText: 'SUBTASK' }).waitFor();
  await card.getByTestId('block-assistant_text').filter({ hasText: 'I looked around' }).waitFor();
  await screenshot(page, '11-subagent-thread');
  const state = await snapshot(slow.url, sessionId);
  assert.equal(Object.values(state.subagents).length, 1);
  assert.deepEqual(errors, []);
  await page.close();
});

test('when the server goes away the UI says so, and comes back on its own', async () => {
  const errors = [];
  const port = await freePort();
  let server = await startServer({ name: 'restarted server', port, store: 'sqlite' });
  const dataDir = server.dataDir;
  try {
    const sessionId = await createSession(server.url, { name: 'Survives a restart' });
    const page = await newPage(browser, errors);
    await page.goto(`${server.url}/sessions/${sessionId}`);
    const connection = page.getByTestId('connection');
    await connection.and(page.locator('[data-state="open"]')).waitFor();

    await server.kill();
    await connection.and(page.locator('[data-state="reconnecting"]')).waitFor({ timeout: 20_000 });
    await page.getByText('Reconnecting').waitFor();
    await screenshot(page, '12-server-down-reconnecting');

    server = await startServer({ name: 'restarted server', port, dataDir, store: 'sqlite' });
    await connection.and(page.locator('[data-state="open"]')).waitFor({ timeout: 60_000 });
    // The session is live again: a new turn streams into the same page.
    await page.getByTestId('composer-input').fill('create again.txt');
    await page.getByTestId('composer-input').press('Enter');
    await page.locator('[data-testid="file-node"][data-path="again.txt"]').waitFor({ timeout: TURN_TIMEOUT });
    await page.locator('[data-testid="session"][data-status="idle"]').waitFor({ timeout: TURN_TIMEOUT });
    await screenshot(page, '13-back-after-restart');
    assert.equal(await page.getByTestId('block-user_message').count(), 1);
    // Failed reconnect attempts while the server was down show up as console errors of the
    // browser's WebSocket; the app itself must not throw.
    assert.deepEqual(
      errors.filter((e) => !/WebSocket|ERR_CONNECTION_REFUSED|Failed to load resource/.test(e)),
      [],
    );
    await page.close();
  } finally {
    await server.stop();
  }
});
