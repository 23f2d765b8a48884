// A visitor on the widget demo and an agent on the inbox, in headless
// Chromium (driven by tests/browser.rs against a real `tahc serve`):
// the visitor writes; the inbox shows it within a second, without a
// reload; the agent takes over and replies; the visitor sees the reply;
// the visitor leaves an email and becomes a contact; the agent adds a note,
// sees a second agent viewing and typing, assigns, returns the conversation
// to the AI, blocks the visitor and closes it; the contacts page searches and
// downloads the CSV; someone else gives the same address on another widget,
// the inbox shows it as unverified, and an agent confirms it. Screenshots of
// each step go to SHOTS; any console error fails the run.
//
// Usage: node inbox-and-widget.mjs BASE_URL AGENT_KEY WORKSPACE_ID SHOTS_DIR

import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [base, key, workspace, shots] = process.argv.slice(2);
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
const problems = [];
const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });

async function open(name, url, within = context) {
  const page = await within.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`${name} console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`${name} page error: ${error.message}`));
  await page.goto(url);
  return page;
}

/** A GraphQL request with the admin key; its data. */
async function graphql(query, variables = {}) {
  const response = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

const shot = (page, name) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

try {
  const inbox = await open('inbox', `${base}/`);
  await inbox.fill('#key', key);
  await inbox.click('#login-form button[type=submit]');
  await inbox.waitForSelector('#filters .filter[data-filter=open]');
  await shot(inbox, '1-inbox-empty');

  const widget = await open('widget', `${base}/widget-demo?workspace=${workspace}`);
  const first = 'Hello, my order #1042 has not arrived';
  await widget.fill('#message', first);
  await widget.click('#send');
  await widget.locator('.message.visitor', { hasText: first }).waitFor();
  const sent = Date.now();
  const row = inbox.locator('#conversations tbody tr', { hasText: first });
  await row.waitFor({ timeout: 1000 });
  const shownAfterMs = Date.now() - sent;
  await shot(widget, '2-widget-sent');
  await shot(inbox, '3-inbox-live');

  await row.click();
  await inbox.locator('#timeline .message.visitor', { hasText: first }).waitFor();
  await inbox.click('[data-action=takeOver]');
  await inbox.waitForSelector('[data-action=returnToAi]');
  const reply = 'Sorry about that! Let me look it up.';
  await inbox.fill('#reply-body', reply);
  await inbox.click('#reply-send');
  await inbox.locator('#timeline .message.agent', { hasText: reply }).waitFor();
  await inbox.fill('#reply-body', 'Carrier says it is delayed');
  await inbox.check('#reply-internal');
  await inbox.click('#reply-send');
  await inbox.locator('#timeline .message.internal', { hasText: 'Carrier says' }).waitFor();

  await widget.locator('.message.agent', { hasText: reply }).waitFor();
  await shot(widget, '4-widget-reply');
  if (await widget.locator('.message', { hasText: 'Carrier says' }).count()) {
    throw new Error('the visitor saw an internal note');
  }

  await widget.fill('#email', 'dana@example.com');
  await widget.click('#give-email');
  await widget.locator('#give-email', { hasText: 'Saved' }).waitFor();
  await inbox.waitForFunction(
    () => document.querySelector('#contact-email')?.value === 'dana@example.com',
  );
  // Answered, it waits for the customer: under Pending, named now.
  await inbox.click('.filter[data-filter=pending]');
  await inbox.locator('#conversations tbody tr', { hasText: 'dana@example.com' }).waitFor();
  await shot(inbox, '5-inbox-contact');

  // The contact panel: a note for the team.
  await inbox.fill('#contact-note', 'Asked about order #1042 twice');
  await inbox.click('#contact-note-add');
  await inbox.locator('#contact-notes li', { hasText: 'Asked about order #1042 twice' }).waitFor();

  // A second agent opens the conversation: the first sees it live.
  const added = await graphql(
    'mutation { addAgent(input: { name: "Lee", email: "lee@example.com", role: AGENT }) { apiKey agent { id } } }',
  );
  // Another browser profile: the first one remembers the admin's key.
  const elsewhere = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const lee = await open('inbox-lee', `${base}/`, elsewhere);
  await lee.fill('#key', added.addAgent.apiKey);
  await lee.click('#login-form button[type=submit]');
  await lee.click('.filter[data-filter=all]');
  await lee.locator('#conversations tbody tr', { hasText: 'dana@example.com' }).click();
  await inbox.locator('#activity', { hasText: 'Lee is viewing' }).waitFor();
  await lee.fill('#reply-body', 'Looking');
  await inbox.locator('#activity', { hasText: 'Lee is typing' }).waitFor();
  await shot(inbox, '6-team-activity');

  // Assign to Lee (new since the page loaded), return to the AI; close;
  // block the visitor.
  await inbox.locator('#conversations tbody tr', { hasText: 'dana@example.com' }).click();
  await inbox.locator('[data-action=assign] option', { hasText: 'Lee' }).waitFor({ state: 'attached' });
  await inbox.selectOption('[data-action=assign]', { label: 'Lee' });
  await inbox.locator('#conversations tbody tr', { hasText: 'Lee' }).waitFor();
  await inbox.click('[data-action=returnToAi]');
  await inbox.waitForSelector('[data-action=takeOver]');

  await inbox.click('[data-action=close]');
  await inbox.locator('#detail .status.closed').waitFor();
  await inbox.click('.filter[data-filter=closed]');
  await inbox.locator('#conversations tbody tr', { hasText: 'dana@example.com' })
    .locator('.status.closed').waitFor();
  await shot(inbox, '7-inbox-closed');
  inbox.once('dialog', (dialog) => dialog.accept());
  await inbox.click('[data-action=block]');
  await inbox.locator('#detail .badge', { hasText: 'blocked' }).waitFor();

  await inbox.click('#show-contacts');
  await inbox.locator('#contact-list tbody tr', { hasText: 'dana@example.com' }).waitFor();
  await inbox.fill('#contact-search', 'nobody-like-this');
  await inbox.locator('#contact-list tbody tr').first().waitFor({ state: 'detached' });
  await inbox.fill('#contact-search', 'dana');
  await inbox.locator('#contact-list tbody tr', { hasText: 'dana@example.com' }).waitFor();
  const [download] = await Promise.all([
    inbox.waitForEvent('download'),
    inbox.click('#contacts-csv'),
  ]);
  const csv = await readFile(await download.path(), 'utf8');
  if (!csv.includes('dana@example.com')) throw new Error(`the CSV lacks the contact: ${csv}`);
  await shot(inbox, '8-contacts');

  // Someone else types Dana's address into the widget: a claim the team
  // sees as unverified, joined to Dana only once an agent confirms it.
  const strangers = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const claimant = await open('claimant', `${base}/widget-demo?workspace=${workspace}`, strangers);
  const claimText = 'Hi, I lost access to my account';
  await claimant.fill('#message', claimText);
  await claimant.click('#send');
  await claimant.locator('.message.visitor', { hasText: claimText }).waitFor();
  await claimant.fill('#email', 'dana@example.com');
  await claimant.click('#give-email');
  await claimant.locator('#give-email', { hasText: 'Saved' }).waitFor();
  await inbox.click('#show-inbox');
  await inbox.click('.filter[data-filter=all]');
  await inbox.locator('#conversations tbody tr', { hasText: claimText }).click();
  await inbox.locator('#visitor-claim', { hasText: 'dana@example.com' }).waitFor();
  if (await inbox.locator('#contact-email').count()) {
    throw new Error('an unverified claim showed the contact');
  }
  await shot(inbox, '9-unverified-claim');
  await inbox.click('#visitor-claim-confirm');
  await inbox.waitForFunction(
    () => document.querySelector('#contact-email')?.value === 'dana@example.com',
  );

  if (problems.length) throw new Error(problems.join('\n'));
  console.log(JSON.stringify({ ok: true, shownAfterMs, screenshots: shots }));
} catch (error) {
  console.error(error.stack || String(error));
  for (const problem of problems) console.error(problem);
  process.exitCode = 1;
} finally {
  await browser.close();
}
