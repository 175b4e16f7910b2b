// Refused connections in the web UI, produced as an attacker would: the scripted model
// (network-scenario.json) answers with Bash calls that run curl against hosts not on the
// allowlist. Inside the sandbox curl goes through HTTPS_PROXY, the runtime's egress proxy, which
// refuses it by name (nothing is resolved, nothing leaves the machine) and appends
// `network_denied`; the UI must show it live, and again after a reload from the snapshot.
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
  await startServerAndBrowser(env, { name: 'network demo server', scenario: 'web/e2e/network-scenario.json' });
  ({ server, browser } = env);
});

after(() => stopServerAndBrowser(env));

test('a connection the egress proxy refuses shows as a notice, live and after a reload', async () => {
  const errors = [];
  const sessionId = await createSession(server.url, { name: 'Phone home' });
  const page = await newPage(browser, errors);
  await page.goto(`${server.url}/sessions/${sessionId}`);
  await page.getByTestId('connection').and(page.locator('[data-state="open"]')).waitFor();
  assert.equal(await page.getByTestId('network-notice').count(), 0, 'no notice before anything was refused');

  await page.getByTestId('composer-input').fill('please phone home');
  await page.getByTestId('composer-input').press('Enter');
  await page.getByTestId('tool-card').filter({ hasText: 'Bash' }).waitFor({ timeout: TURN_TIMEOUT });

  const denial = page.locator('[data-testid="network-denial"][data-host="blocked.example"]');
  try {
    await denial.waitFor({ timeout: TURN_TIMEOUT });
  } catch (error) {
    const state = await snapshot(server.url, sessionId).catch(() => null);
    const tool = await page.getByTestId('tool-card').first().textContent().catch(() => '');
    throw new Error(
      `no notice for blocked.example (${error.message}).\n` +
        `snapshot networkDenied: ${JSON.stringify(state?.networkDenied)}\n` +
        `tool card: ${tool}\n` +
        `server log (tail):\n${server.log.slice(-4000)}`,
    );
  }
  await page.locator('[data-testid="session"][data-status="idle"]').waitFor({ timeout: TURN_TIMEOUT });
  await screenshot(page, '20-network-denied');

  // In words, with the raw code and the count on hover.
  assert.equal(await denial.getAttribute('data-port'), '443');
  assert.equal(await denial.getAttribute('data-reason'), 'not_allowlisted');
  assert.match(await denial.textContent(), /^blocked\.example:443 — not on the allowlist/);
  assert.match(await denial.getAttribute('title'), /^not_allowlisted · /);
  assert.match(await page.getByTestId('network-notice').textContent(), /Network blocked: blocked\.example:443/);

  // The server's state holds the same refusal.
  const state = await snapshot(server.url, sessionId);
  const refused = (state.networkDenied ?? []).find((d) => d.host === 'blocked.example');
  assert.ok(refused, JSON.stringify(state.networkDenied));
  assert.equal(refused.port, 443);
  assert.equal(refused.reason, 'not_allowlisted');
  const count = String(refused.count);
  assert.equal(await denial.getAttribute('data-count'), count);

  // Another refused host: it becomes the one in words; the earlier ones are behind the toggle,
  // latest first. (How many there are depends also on what the agent CLI itself tried to reach.)
  await page.getByTestId('composer-input').fill('try another way');
  await page.getByTestId('composer-input').press('Enter');
  const latest = page.locator('.network-notice-latest [data-testid="network-denial"]');
  await latest.and(page.locator('[data-host="exfil.example"]')).waitFor({ timeout: TURN_TIMEOUT });
  await page.locator('[data-testid="session"][data-status="idle"]').waitFor({ timeout: TURN_TIMEOUT });
  assert.match(await latest.textContent(), /^exfil\.example:8080 — not on the allowlist/);
  const all = (await snapshot(server.url, sessionId)).networkDenied;
  const toggle = page.getByTestId('network-notice-toggle');
  assert.equal(await toggle.textContent(), `${all.length - 1} more`);
  assert.equal(await denial.count(), 0, 'earlier refusals are collapsed');
  await toggle.click();
  const listed = page.locator('.network-notice-list [data-testid="network-denial"]');
  assert.deepEqual(
    await listed.evaluateAll((items) => items.map((item) => item.getAttribute('data-host'))),
    all.map((d) => d.host).reverse().slice(1),
  );
  await denial.waitFor();
  await screenshot(page, '21-network-denied-expanded');

  // After a reload it comes from the snapshot.
  await page.reload();
  await page.getByTestId('connection').and(page.locator('[data-state="open"]')).waitFor();
  await latest.and(page.locator('[data-host="exfil.example"]')).waitFor({ timeout: 10_000 });
  await page.getByTestId('network-notice-toggle').click();
  assert.equal(await denial.getAttribute('data-reason'), 'not_allowlisted');
  assert.equal(await denial.getAttribute('data-count'), count);

  // The Usage tab lists what confines a sandbox on this server (GET /healthz).
  await page.getByRole('tab', { name: 'Usage' }).click();
  const protections = page.getByTestId('sandbox-protections');
  await protections.waitFor();
  assert.equal(await protections.locator('[data-name="network"]').getAttribute('data-enforced'), 'true');
  // It says where the session's sandbox runs (the `status` event's provider).
  assert.equal(await page.locator('[data-detail="Runs on"] dd').textContent(), 'this host (bubblewrap)');
  await screenshot(page, '22-network-denied-after-reload');

  assert.deepEqual(errors, []);
  await page.close();
});
