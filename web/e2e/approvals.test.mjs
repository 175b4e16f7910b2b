// Human in the loop in the web UI, end to end: the real Claude Code CLI in permission mode
// `default` against the scripted model (approvals-scenario.json), which calls Bash (`touch
// <file>`), Write and AskUserQuestion; the CLI asks the runtime before each, and the UI shows the
// request inline at the tool call, to be allowed, denied (with a reason the agent sees) or
// answered. Also: a request survives a reload, a second tab sees it resolved, and a budget limit
// stops the session until it is approved or raised.
//
// Run: npm --prefix web run e2e (after `cargo build --bin agent-runtime`).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { createSession, newPage, screenshot, snapshot, startServerAndBrowser, stopServerAndBrowser } from './harness.mjs';

const TURN_TIMEOUT = 60_000;

const env = {};
let server;
let browser;

before(async () => {
  await startServerAndBrowser(env, { name: 'approvals demo server', scenario: 'web/e2e/approvals-scenario.json' });
  ({ server, browser } = env);
});

after(() => stopServerAndBrowser(env));

/** A page on a session created over REST in permission mode `default`. */
async function openSession(name, body = {}) {
  const errors = [];
  const sessionId = await createSession(server.url, { name, permissionMode: 'default', ...body });
  const page = await newPage(browser, errors);
  await page.goto(`${server.url}/sessions/${sessionId}`);
  await live(page);
  return { page, sessionId, errors };
}

async function live(page) {
  await page.getByTestId('connection').and(page.locator('[data-state="open"]')).waitFor();
}

async function send(page, text) {
  await page.getByTestId('composer-input').fill(text);
  await page.getByTestId('composer-input').press('Enter');
}

/** The pending permission card, with the server log in the error when none comes. */
async function pendingCard(page, sessionId) {
  const card = page.locator('[data-testid="permission-card"][data-state="pending"]');
  try {
    await card.waitFor({ timeout: TURN_TIMEOUT });
  } catch (error) {
    const state = await snapshot(server.url, sessionId).catch(() => null);
    throw new Error(
      `no pending permission card (${error.message}).\n` +
        `snapshot status: ${state?.status}, permissions: ${JSON.stringify(state?.permissions)}\n` +
        `server log (tail):\n${server.log.slice(-4000)}`,
    );
  }
  return card;
}

async function idle(page) {
  await page.locator('[data-testid="session"][data-status="idle"]').waitFor({ timeout: TURN_TIMEOUT });
}

async function assistantSays(page, text) {
  await page.getByTestId('block-assistant_text').filter({ hasText: text }).first().waitFor({ timeout: TURN_TIMEOUT });
}

test('the new-session dialog offers the modes the agent can use; allow once runs the tool and the file appears', async () => {
  const errors = [];
  const page = await newPage(browser, errors);
  await page.goto(server.url);
  await live(page);
  await page.getByTestId('new-session').click();
  await page.getByTestId('new-session-dialog').waitFor();
  // Claude Code can use every mode; Gemini CLI cannot ask, so only "never ask" and "plan".
  const modes = page.getByTestId('permission-mode');
  await modes.first().waitFor();
  assert.deepEqual(await modes.evaluateAll((els) => els.map((e) => e.dataset.mode)), ['profile', 'bypass', 'default', 'acceptEdits', 'plan']);
  await page.getByRole('radio', { name: 'Gemini CLI' }).click();
  assert.deepEqual(await modes.evaluateAll((els) => els.map((e) => e.dataset.mode)), ['profile', 'bypass', 'plan']);
  await page.getByRole('radio', { name: 'Claude Code' }).click();
  await page.locator('[data-testid="permission-mode"][data-mode="default"]').click();
  await screenshot(page, '30-new-session-permission-mode');
  await page.getByTestId('create-session').click();
  await page.waitForURL(/\/sessions\/[^/]+$/);
  const sessionId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop());

  await send(page, 'please touch approved.txt');
  const card = await pendingCard(page, sessionId);
  assert.equal(await card.getAttribute('data-tool'), 'Bash');
  assert.match(await card.getByTestId('approval-command').textContent(), /touch approved\.txt/);
  assert.match(await card.getByTestId('approval-keys').textContent(), /allow once.*allow always.*deny/);
  // Inline, right below the call it is about.
  assert.equal(await card.evaluate((el) => el.previousElementSibling?.dataset.testid), 'tool-card');
  assert.equal(await card.evaluate((el) => el.previousElementSibling?.dataset.tool), 'Bash');
  await page.locator('[data-testid="session"][data-status="requires_action"]').waitFor();
  assert.equal(await page.getByTestId('status').textContent(), 'Needs your answer');
  assert.equal((await snapshot(server.url, sessionId)).status, 'requires_action');
  await screenshot(page, '31-permission-pending');

  await card.getByTestId('allow-once').click();
  const done = page.locator('[data-testid="permission-card"][data-state="allowed"][data-by="user"]');
  await done.waitFor({ timeout: TURN_TIMEOUT });
  assert.match(await done.getByTestId('permission-outcome').textContent(), /Allowed once by you/);
  await page.locator('[data-testid="file-node"][data-path="approved.txt"]').waitFor({ timeout: TURN_TIMEOUT });
  await assistantSays(page, 'Done: approved.txt is there now.');
  await idle(page);
  await screenshot(page, '32-permission-allowed');

  const state = await snapshot(server.url, sessionId);
  assert.equal(state.permissions.length, 1);
  assert.equal(state.permissions[0].tool, 'Bash');
  assert.deepEqual(
    { decision: state.permissions[0].resolution.decision, by: state.permissions[0].resolution.by },
    { decision: 'allow', by: 'user' },
  );
  assert.ok(state.files.some((f) => f.path === 'approved.txt'), JSON.stringify(state.files));
  assert.deepEqual(errors, []);
  await page.close();
});

test('deny with a reason: the tool does not run, and the agent carries on', async () => {
  const { page, sessionId, errors } = await openSession('Deny');
  await send(page, 'please touch denied.txt');
  const card = await pendingCard(page, sessionId);
  const reason = 'Not in this workspace, please';
  await card.getByTestId('deny-reason').fill(reason);
  await card.getByTestId('deny').click();

  const denied = page.locator('[data-testid="permission-card"][data-state="denied"][data-by="user"]');
  await denied.waitFor({ timeout: TURN_TIMEOUT });
  assert.match(await denied.getByTestId('permission-outcome').textContent(), new RegExp(`Denied by you.*${reason}`));
  await assistantSays(page, 'I was not allowed to do that, so I will carry on without it.');
  await idle(page);
  await screenshot(page, '33-permission-denied');

  const state = await snapshot(server.url, sessionId);
  assert.equal(state.permissions[0].resolution.decision, 'deny');
  assert.equal(state.permissions[0].resolution.message, reason);
  assert.ok(!state.files.some((f) => f.path === 'denied.txt'), JSON.stringify(state.files));
  assert.deepEqual(errors, []);
  await page.close();
});

test('a Write shows its content as a diff, and `a` allows the only request waiting', async () => {
  const { page, sessionId, errors } = await openSession('Write with a key');
  await send(page, 'please write notes.md');
  const card = await pendingCard(page, sessionId);
  assert.equal(await card.getAttribute('data-tool'), 'Write');
  const diff = card.getByTestId('approval-diff');
  assert.match(await diff.textContent(), /notes\.md/);
  assert.deepEqual(
    await diff.locator('.diff-line').evaluateAll((els) => els.map((e) => [e.dataset.kind, e.textContent.slice(1)])),
    [
      ['added', 'first line'],
      ['added', 'second line'],
    ],
  );
  await screenshot(page, '34-write-diff');
  // Not while typing: the composer has focus after sending.
  await page.keyboard.press('a');
  assert.equal(await page.locator('[data-testid="permission-card"][data-state="pending"]').count(), 1);
  assert.equal(await page.getByTestId('composer-input').inputValue(), 'a');
  await page.getByTestId('composer-input').fill('');
  await page.evaluate(() => document.activeElement?.blur());
  await page.keyboard.press('a');
  await page.locator('[data-testid="permission-card"][data-state="allowed"]').waitFor({ timeout: TURN_TIMEOUT });
  await page.locator('[data-testid="file-node"][data-path="notes.md"]').waitFor({ timeout: TURN_TIMEOUT });
  await assistantSays(page, 'Wrote notes.md.');
  await idle(page);
  assert.deepEqual(errors, []);
  await page.close();
});

test('reloading while a request waits shows it again, and it can still be answered', async () => {
  const { page, sessionId, errors } = await openSession('Reload mid-request');
  await send(page, 'please touch reload.txt');
  const card = await pendingCard(page, sessionId);
  const requestId = await card.getAttribute('data-request-id');

  await page.reload();
  await live(page);
  const again = await pendingCard(page, sessionId);
  assert.equal(await again.getAttribute('data-request-id'), requestId);
  assert.match(await again.getByTestId('approval-command').textContent(), /touch reload\.txt/);
  await page.locator('[data-testid="session"][data-status="requires_action"]').waitFor();
  await screenshot(page, '35-request-after-reload');

  await again.getByTestId('allow-once').click();
  await page.locator('[data-testid="file-node"][data-path="reload.txt"]').waitFor({ timeout: TURN_TIMEOUT });
  await idle(page);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a second tab sees the request, then sees it resolved with the rule remembered', async () => {
  const { page, sessionId, errors } = await openSession('Two tabs');
  const other = await newPage(browser, errors);
  await other.goto(`${server.url}/sessions/${sessionId}`);
  await live(other);
  // The session list of the other tab says this session needs an answer.
  await send(page, 'please touch shared.txt');
  await pendingCard(page, sessionId);
  await pendingCard(other, sessionId);
  await other.locator(`[data-testid="session-item"][data-status="requires_action"]`).first().waitFor();

  await page.locator('[data-testid="permission-card"][data-state="pending"]').getByTestId('allow-always').click();
  const resolved = other.locator('[data-testid="permission-card"][data-state="allowed"][data-by="user"]');
  await resolved.waitFor({ timeout: TURN_TIMEOUT });
  const outcome = await resolved.getByTestId('permission-outcome').textContent();
  assert.match(outcome, /Allowed always by you/);
  assert.match(outcome, /rule .+ added to the session/);
  await other.locator('[data-testid="file-node"][data-path="shared.txt"]').waitFor({ timeout: TURN_TIMEOUT });
  await idle(other);
  await screenshot(other, '36-second-tab-resolved');
  assert.equal(await other.locator('[data-testid="permission-card"][data-state="pending"]').count(), 0);

  const state = await snapshot(server.url, sessionId);
  assert.equal(state.permissions[0].resolution.remember, true);
  assert.deepEqual(state.sessionRules, [state.permissions[0].resolution.rule]);
  assert.deepEqual(errors, []);
  await Promise.all([page.close(), other.close()]);
});

test('a question is answered in a form, and the agent goes on with the answer', async () => {
  const { page, sessionId, errors } = await openSession('Question');
  await send(page, 'please ask me something');
  const form = page.locator('[data-testid="question-card"][data-state="pending"]');
  try {
    await form.waitFor({ timeout: TURN_TIMEOUT });
  } catch (error) {
    const state = await snapshot(server.url, sessionId).catch(() => null);
    throw new Error(`no question (${error.message}): ${JSON.stringify(state?.questions)}\n${server.log.slice(-4000)}`);
  }
  const question = form.locator('[data-testid="question"][data-question="Which color?"]');
  assert.match(await question.textContent(), /Color.*Which color\?.*Red.*warm.*Blue.*cool.*Other/);
  assert.equal(await form.getByTestId('question-submit').isDisabled(), true);
  await question.locator('[data-testid="question-option"][value="Blue"]').check();
  await screenshot(page, '37-question');
  await form.getByTestId('question-submit').click();

  const answered = page.locator('[data-testid="question-card"][data-state="answered"][data-by="user"]');
  await answered.waitFor({ timeout: TURN_TIMEOUT });
  assert.match(await answered.getByTestId('question-answer').textContent(), /Which color\?\s*Blue/);
  await assistantSays(page, 'Thanks for answering, I will use that color.');
  await idle(page);
  const state = await snapshot(server.url, sessionId);
  assert.deepEqual(state.questions[0].resolution.answers, { 'Which color?': 'Blue' });
  assert.deepEqual(errors, []);
  await page.close();
});

test('a budget limit stops the session until the overrun is approved or the limit raised', async () => {
  const { page, sessionId, errors } = await openSession('Budget', { permissionMode: 'bypass', budget: { maxTurns: 1 } });
  await send(page, 'hello');
  await assistantSays(page, 'A scripted answer from the approvals scenario.');
  await page.locator('[data-testid="session"]:not([data-status="running"])').waitFor({ timeout: TURN_TIMEOUT });

  await send(page, 'hello again');
  const banner = page.getByTestId('budget-banner');
  await banner.waitFor({ timeout: TURN_TIMEOUT });
  assert.equal(await banner.getAttribute('data-kind'), 'turns');
  assert.match(await banner.getByTestId('budget-spent').textContent(), /of 1 turn$/);
  await page.locator('[data-testid="session"][data-status="requires_action"]').waitFor();
  assert.equal(await page.getByTestId('status').textContent(), 'Budget reached');
  await screenshot(page, '38-budget-reached');

  await banner.getByTestId('budget-approve').click();
  await page.getByTestId('block-assistant_text').nth(1).waitFor({ timeout: TURN_TIMEOUT });
  // One turn past the limit, then it holds again.
  await banner.waitFor({ timeout: TURN_TIMEOUT });
  await page.locator('[data-testid="session"][data-status="requires_action"]').waitFor({ timeout: TURN_TIMEOUT });

  await send(page, 'and once more');
  await page.getByTestId('block-user_message').filter({ hasText: 'and once more' }).waitFor();
  await banner.getByTestId('budget-limit').fill('10');
  await banner.getByTestId('budget-raise').click();
  try {
    await page.getByTestId('block-assistant_text').nth(2).waitFor({ timeout: TURN_TIMEOUT });
  } catch (error) {
    const state = await snapshot(server.url, sessionId).catch(() => null);
    throw new Error(
      `the held message did not run after the raise (${error.message}).\n` +
        `snapshot: status ${state?.status}, turns ${state?.turns}, settings ${JSON.stringify(state?.settings)}, ` +
        `budgetExceeded ${JSON.stringify(state?.budgetExceeded)}\nserver log (tail):\n${server.log.slice(-4000)}`,
    );
  }
  await idle(page);
  assert.equal(await page.getByTestId('budget-banner').count(), 0);

  const state = await snapshot(server.url, sessionId);
  assert.equal(state.settings.budget.maxTurns, 10);
  assert.equal(state.turns, 3);
  assert.equal(state.budgetExceeded, undefined);
  assert.deepEqual(errors, []);
  await page.close();
});
