// The agents in the web UI: the New session dialog offers every agent the server runs (as
// `GET /api/agents` lists them, with version, install state and capabilities), and a session of
// an ACP agent (OpenCode, the real CLI in bubblewrap, answering from the demo model) streams its
// turn into the UI live.
//
// Run: npm --prefix web run e2e (after `cargo build --bin agent-runtime`).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { newPage, screenshot, snapshot, startServerAndBrowser, stopServerAndBrowser } from './harness.mjs';

/** OpenCode boots a server of its own inside the sandbox before the turn starts. */
const TURN_TIMEOUT = 90_000;

const env = {};
let server;
let browser;

before(async () => {
  await startServerAndBrowser(env, { name: 'agents demo server' });
  ({ server, browser } = env);
});

after(() => stopServerAndBrowser(env));

async function listAgents() {
  const response = await fetch(`${server.url}/api/agents`);
  assert.equal(response.status, 200);
  return (await response.json()).agents;
}

test('the New session dialog lists every agent the server runs; an OpenCode session runs a turn live', async () => {
  const agents = await listAgents();
  const ids = agents.map((a) => a.id);
  for (const id of ['claude-code', 'gemini-cli', 'opencode', 'codex']) assert.ok(ids.includes(id), `${id} in ${ids}`);

  const errors = [];
  const page = await newPage(browser, errors);
  await page.goto(server.url);
  await page.getByTestId('connection').and(page.locator('[data-state="open"]')).waitFor();
  await page.getByTestId('new-session').click();
  await page.getByTestId('new-session-dialog').waitFor();

  // Every agent, in the server's order, the first one chosen.
  const options = page.getByTestId('agent-option');
  await options.first().waitFor();
  assert.deepEqual(
    await options.evaluateAll((nodes) => nodes.map((n) => n.getAttribute('data-agent'))),
    ids,
  );
  for (const [index, agent] of agents.entries()) {
    const option = options.nth(index);
    const text = await option.textContent();
    assert.ok(text.includes(agent.name), `${agent.id}: ${text}`);
    assert.ok(text.includes(agent.version), `${agent.id} shows its version ${agent.version}: ${text}`);
    assert.equal(text.includes('does not resume'), !agent.capabilities.resume, `${agent.id}: ${text}`);
    assert.equal(text.includes('asks for approval'), agent.capabilities.approvals, `${agent.id}: ${text}`);
    assert.equal(text.includes('first message installs it'), !agent.installed, `${agent.id}: ${text}`);
    assert.equal(await option.getAttribute('aria-checked'), index === 0 ? 'true' : 'false', agent.id);
  }
  // Where the session will run, as `GET /api/agents` says (`sandboxes`, the default first).
  const placement = await page.getByTestId('sandbox-placement').textContent();
  assert.ok(placement.includes('bubblewrap on this host'), placement);
  await screenshot(page, '40-new-session-agents');

  const opencode = agents.find((a) => a.id === 'opencode');
  await page.getByRole('radio').filter({ hasText: 'OpenCode' }).click();
  const chosen = page.locator('[role="radio"][aria-checked="true"][data-testid="agent-option"]');
  assert.deepEqual(await chosen.evaluateAll((nodes) => nodes.map((n) => n.getAttribute('data-agent'))), ['opencode']);
  // Its permission modes, as its capabilities say (after the profile's).
  const modes = page.getByTestId('permission-mode');
  await modes.first().waitFor();
  assert.deepEqual(
    await modes.evaluateAll((nodes) => nodes.map((n) => n.getAttribute('data-mode'))),
    ['profile', ...opencode.capabilities.permissionModes],
  );
  await page.getByTestId('create-session').click();
  await page.waitForURL(/\/sessions\/[^/]+$/);
  const sessionId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop());
  // Labelled with the server's name for the agent.
  await page.locator('.session-subtitle .tag').filter({ hasText: 'OpenCode' }).waitFor();
  await page.getByTestId('session-item').filter({ hasText: 'OpenCode' }).waitFor();

  await page.getByTestId('composer-input').fill('Create hello.txt please');
  await page.getByTestId('composer-input').press('Enter');
  await page.getByTestId('block-user_message').filter({ hasText: 'Create hello.txt please' }).waitFor();

  // The turn, as it streams: OpenCode's `write` tool, the file in the files panel, the answer.
  await page.locator('[data-testid="tool-card"][data-tool="write"]').waitFor({ timeout: TURN_TIMEOUT });
  await page.locator('[data-testid="file-node"][data-path="hello.txt"]').waitFor({ timeout: TURN_TIMEOUT });
  await page.locator('[data-testid="session"][data-status="idle"]').waitFor({ timeout: TURN_TIMEOUT });
  await page.locator('[data-testid="tool-card"][data-tool="write"][data-status="success"]').waitFor();
  const texts = await page.getByTestId('block-assistant_text').allTextContents();
  assert.ok(texts.some((t) => t.includes("I'll create hello.txt")), texts.join('\n'));
  assert.ok(texts.some((t) => t.includes('Done! I created hello.txt')), texts.join('\n'));
  assert.equal(await page.getByTestId('block-thinking').count(), 2);
  await screenshot(page, '41-opencode-turn-complete');

  await page.locator('[data-testid="file-node"][data-path="hello.txt"]').click();
  await page.getByTestId('file-content').filter({ hasText: 'Hello from the agent-runtime demo model!' }).waitFor();

  const state = await snapshot(server.url, sessionId);
  assert.equal(state.session.agent, 'opencode');
  assert.deepEqual(
    state.files.map((f) => f.path),
    ['hello.txt'],
  );
  assert.deepEqual(errors, []);
  await page.close();
});

test('when the agents cannot be loaded the dialog says so, and Retry loads them', async () => {
  const errors = [];
  const page = await newPage(browser, errors);
  await page.route('**/api/agents', (route) =>
    route.fulfill({
      status: 503,
      contentType: 'application/problem+json',
      body: JSON.stringify({ type: 'about:blank', code: 'unavailable', title: 'Agents unavailable', status: 503 }),
    }),
  );
  await page.goto(server.url);
  await page.getByTestId('connection').and(page.locator('[data-state="open"]')).waitFor();
  await page.getByTestId('new-session').click();
  await page.getByTestId('agents-error').waitFor();
  assert.equal(await page.getByTestId('agent-option').count(), 0);
  assert.equal(await page.getByTestId('create-session').isDisabled(), true, 'nothing to create a session with');
  await screenshot(page, '42-new-session-agents-failed');

  await page.unroute('**/api/agents');
  await page.getByTestId('agents-error').getByRole('button', { name: 'Retry' }).click();
  await page.getByTestId('agent-option').first().waitFor();
  assert.equal(await page.getByTestId('agent-option').count(), (await listAgents()).length);
  assert.equal(await page.getByTestId('agents-error').count(), 0);
  assert.equal(await page.getByTestId('create-session').isDisabled(), false);
  // The refused requests are logged by the browser; nothing else may go wrong.
  assert.deepEqual(
    errors.filter((e) => !e.includes('503')),
    [],
  );
  await page.close();
});
