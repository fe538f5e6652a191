// Browser tests of the Console: playwright-core driving the system's
// Chromium against a real stack that internal/consolee2e starts (make
// console-e2e). Every test fails on a console error or a failed request it
// did not expect; every page is checked with axe-core and photographed at
// desktop and phone widths into ARTIFACTS.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set: run this through make console-e2e`);
  return v;
};
const BASE = env('BASE_URL');
const CONTROL = env('CONTROL_URL');
const ARTIFACTS = env('ARTIFACTS');
const owner = { email: env('OWNER_EMAIL'), password: env('OWNER_PASSWORD') };
const viewer = { email: env('VIEWER_EMAIL'), password: env('VIEWER_PASSWORD') };
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 360, height: 740 };
const T = 20_000;

mkdirSync(ARTIFACTS, { recursive: true });
let browser;
const state = {}; // ids made by earlier tests: agentId, campaignId, callId

before(async () => {
  browser = await chromium.launch({
    executablePath: env('CHROMIUM'),
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      // A fake microphone, granted without a prompt, that says a sentence
      // (FAKE_MIC, looped): test calls speak to the agent through it.
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${env('FAKE_MIC')}`,
    ],
  });
});
after(async () => {
  await browser?.close();
});

/**
 * session opens a browser context that records problems: console errors,
 * page errors, failed requests and HTTP errors. allow(re) lets through
 * the ones whose text matches re (an expected 401, say).
 */
async function session() {
  const ctx = await browser.newContext({ viewport: DESKTOP });
  const problems = [];
  const allowed = [];
  const note = (what) => {
    if (!allowed.some((re) => re.test(what))) problems.push(what);
  };
  const watch = (page) => {
    page.on('console', (m) => m.type() === 'error' && note(`console error: ${m.text()}`));
    page.on('pageerror', (e) => note(`page error: ${e.message}`));
    page.on('requestfailed', (r) => {
      // A page that navigates or closes cancels its event stream.
      if (r.failure()?.errorText === 'net::ERR_ABORTED' && r.url().includes('/api/v1/events')) return;
      note(`request failed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`);
    });
    page.on('response', (r) => r.status() >= 400 && note(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`));
  };
  ctx.on('page', watch);
  return {
    ctx,
    allow: (re) => allowed.push(re),
    page: async () => ctx.newPage(),
    check: () => assert.deepEqual(problems, [], 'console errors or failed requests'),
    close: () => ctx.close(),
  };
}

async function signIn(page, who) {
  await page.goto(BASE + '/fleet');
  await page.getByLabel('E-mail').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Live fleet', level: 1 }).waitFor({ timeout: T });
}

/** go navigates inside the app (no reload) by its main navigation. */
async function go(page, name) {
  if (!(await page.getByRole('navigation', { name: 'Main' }).isVisible())) await page.getByRole('button', { name: 'Menu' }).click();
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();
}

/** settled waits until no loading state is shown. */
async function settled(page) {
  await page.waitForFunction(() => !document.querySelector('.state[role=status]'), null, { timeout: T });
}

/** audit checks a page with axe-core and photographs it at both widths. */
async function audit(page, name) {
  await settled(page);
  await page.addScriptTag({ content: axeSource });
  const res = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`),
    [],
    `${name}: serious accessibility violations`,
  );
  await page.screenshot({ path: `${ARTIFACTS}/${name}-desktop.png`, fullPage: true });
  await page.setViewportSize(PHONE);
  await settled(page);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `${name}: ${overflow}px wider than a 360 px screen`);
  await page.screenshot({ path: `${ARTIFACTS}/${name}-phone.png`, fullPage: true });
  await page.setViewportSize(DESKTOP);
}

/**
 * agentHeard resolves once the page's <audio> element that plays the
 * agent's track has risen above silence (peak over 1 % of full scale, read
 * through WebAudio) in two stretches separated by 300 ms of quiet: the
 * agent's greeting and its playback of what the microphone said (or, when
 * the greeting was over before the page listened, two playbacks) — so the
 * caller's voice went to the agent and came back. It resolves to the peak
 * and when each stretch began (ms after the player appeared).
 */
function agentHeard(page) {
  const listen = () => {
    const el = [...document.querySelectorAll('audio')].find((a) => a.srcObject && !a.paused);
    if (!el) return false;
    const m = (window.__level ??= { starts: [], peak: 0, loud: false, quiet: 0, t0: performance.now() });
    if (!m.ac) {
      m.ac = new AudioContext();
      const an = m.ac.createAnalyser();
      an.fftSize = 1024;
      m.ac.createMediaStreamSource(el.srcObject).connect(an);
      const buf = new Float32Array(an.fftSize);
      const tick = () => {
        an.getFloatTimeDomainData(buf);
        const peak = buf.reduce((p, v) => Math.max(p, Math.abs(v)), 0);
        m.peak = Math.max(m.peak, peak);
        if (peak > 0.01) {
          if (!m.loud) m.starts.push(Math.round(performance.now() - m.t0));
          m.loud = true;
          m.quiet = 0;
        } else if ((m.quiet += 20) >= 300) m.loud = false;
        m.timer = setTimeout(tick, 20);
      };
      void m.ac.resume().then(tick);
    }
    return m.starts.length >= 2 && { peak: m.peak, starts: m.starts };
  };
  return page.waitForFunction(listen, null, { timeout: 2 * T, polling: 100 }).then((h) => h.jsonValue());
}

test('a wrong password shows an error', async () => {
  const s = await session();
  s.allow(/HTTP 401: POST .*\/api\/v1\/auth\/login/);
  s.allow(/console error: Failed to load resource: the server responded with a status of 401/);
  const page = await s.page();
  await page.goto(BASE + '/');
  await audit(page, 'sign-in');
  await page.getByLabel('E-mail').fill(owner.email);
  await page.getByLabel('Password').fill('not-the-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'Wrong e-mail or password.' }).waitFor({ timeout: T });
  assert.equal(await page.getByRole('heading', { name: 'Live fleet' }).count(), 0);
  s.check();
  await s.close();
});

test('the owner creates an agent and a campaign and uploads contacts (one bad row shown)', async () => {
  const s = await session();
  const page = await s.page();
  await signIn(page, owner);

  await go(page, 'Agents');
  await page.getByText('No agents yet.').waitFor({ timeout: T });
  await page.getByLabel("New agent's name").fill('Reception');
  await page.getByRole('button', { name: 'Create agent' }).click();
  await page.getByRole('heading', { name: 'Agent Reception' }).waitFor({ timeout: T });
  state.agentId = page.url().split('/').pop();
  await page.getByLabel('Greeting').fill('Hello, you are through to Vox reception.');
  await page.getByLabel('Voice').fill('alloy');
  await page.getByLabel('Speech to text').selectOption('deepgram');
  await page.getByLabel('Replies from').selectOption('model');
  await page.getByRole('button', { name: 'Save agent' }).click();
  await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor({ timeout: T });
  // What was saved is what the server keeps: a reload shows it.
  await page.reload();
  await page.getByRole('heading', { name: 'Agent Reception' }).waitFor({ timeout: T });
  assert.equal(await page.getByLabel('Speech to text').inputValue(), 'deepgram');
  assert.equal(await page.getByLabel('Text to speech').inputValue(), '', "the fleet's default");
  assert.equal(await page.getByLabel('Replies from').inputValue(), 'model');
  assert.equal(await page.getByLabel('Greeting').inputValue(), 'Hello, you are through to Vox reception.');

  await go(page, 'Campaigns');
  await page.getByLabel('Name', { exact: true }).fill('Spring renewals');
  await page.getByLabel('SIP trunk id').fill('ST_e2etrunk');
  await page.getByLabel('Time zone').selectOption('Europe/London');
  await page.getByRole('button', { name: 'Create campaign' }).click();
  await page.getByRole('heading', { name: 'Campaign Spring renewals' }).waitFor({ timeout: T });
  state.campaignId = page.url().split('/').pop();

  await page.getByLabel('Or paste CSV (phone,name,…)').fill('phone,name\n+442071838001,Ann\nnot-a-number,Bob\n+442071838003,Cy\n');
  await page.getByRole('button', { name: 'Upload' }).click();
  const result = page.locator('.upload-result');
  await result.waitFor({ timeout: T });
  assert.match(await result.innerText(), /2 added/);
  const rows = page.locator('.row-errors tbody tr');
  assert.equal(await rows.count(), 1, 'one bad row listed');
  assert.match(await rows.first().innerText(), /^2\s/, 'the bad row is the second data row');

  await page.getByRole('button', { name: 'Start' }).click();
  await page.locator('#cp-state .badge', { hasText: 'running' }).waitFor({ timeout: T });
  s.check();
  await s.close();
});

test('a test call: a worker turns busy and the call appears live, then its detail', async () => {
  assert.ok(state.agentId, 'needs the agent of the previous test');
  const s = await session();
  const fleet = await s.page();
  await signIn(fleet, owner);
  await fleet.locator('tr[data-worker][data-state=ready]').nth(1).waitFor({ timeout: T });
  const calls = await s.page();
  await calls.goto(BASE + '/calls');
  await calls.getByRole('heading', { name: 'Calls', level: 1 }).waitFor({ timeout: T });
  await calls.getByText('No calls match.').waitFor({ timeout: T });
  await calls.getByText('Live', { exact: true }).waitFor({ timeout: T }); // the stream is open

  const res = await fetch(CONTROL + '/call', { method: 'POST', body: JSON.stringify({ agent_id: state.agentId, campaign_id: state.campaignId }) });
  assert.equal(res.status, 200, await res.clone().text());
  const { call_id: id } = await res.json();
  state.callId = id;

  // The fleet view: a worker busy in this call, its age counting.
  const busy = fleet.locator('tr[data-state=busy]', { hasText: id });
  await busy.waitFor({ timeout: T });
  assert.match(await fleet.locator('[data-stat=busy]').innerText(), /^1$/);
  await fleet.bringToFront();
  await fleet.waitForFunction(
    (id) => /^0:(0[1-9]|[1-5]\d)$/.test(document.querySelector(`tr[data-state=busy] a[href$="${id}"]`)?.closest('tr')?.cells[3]?.textContent ?? ''),
    id,
    { timeout: T },
  );
  await fleet.screenshot({ path: `${ARTIFACTS}/fleet-live-busy.png`, fullPage: true });

  // The calls list, without a reload: the call appears, in progress.
  const row = calls.locator(`tr[data-call="${id}"]`);
  await row.waitFor({ timeout: T });
  assert.match(await row.innerText(), /in-progress/);

  const end = await fetch(`${CONTROL}/call/${id}/end`, { method: 'POST' });
  assert.equal(end.status, 200, await end.clone().text());
  const { transcript } = await end.json();
  await row.filter({ hasText: 'completed' }).waitFor({ timeout: T });
  await fleet.locator('tr[data-state=busy]').waitFor({ state: 'detached', timeout: T });

  await row.getByRole('link', { name: id }).click();
  await calls.getByRole('heading', { name: `Call ${id}` }).waitFor({ timeout: T });
  await calls.getByLabel('Call recording').waitFor({ timeout: T });
  const href = await calls.getByRole('link', { name: 'Download the recording' }).getAttribute('href');
  if (transcript) {
    // The Backend keeps transcripts: the detail shows it, the turn's latency and the fields.
    await calls.getByText('I would like to renew my contract.').waitFor({ timeout: T });
    await calls.getByRole('cell', { name: '420' }).waitFor({ timeout: T });
    await calls.getByText('renewal').waitFor({ timeout: T });
  } else {
    await calls.getByText('No transcript yet.').waitFor({ timeout: T });
  }
  const rec = await fetch(href);
  assert.equal(rec.status, 200, 'the presigned recording link plays');
  assert.equal((await rec.arrayBuffer()).byteLength, 44 + 16000);
  s.check();
  await s.close();
});

test('the test call button: the browser joins the agent through LiveKit, hears it, hangs up, and the call is recorded', async () => {
  assert.ok(state.agentId, 'needs the agent of an earlier test');
  const s = await session();
  const fleet = await s.page();
  await signIn(fleet, owner);
  await fleet.locator('tr[data-worker][data-state=ready]').nth(1).waitFor({ timeout: T });
  const page = await s.page();
  await page.goto(`${BASE}/agents/${state.agentId}`);
  await page.getByRole('heading', { name: 'Agent Reception' }).waitFor({ timeout: T });
  await page.getByRole('button', { name: 'Start a test call' }).click();

  // From the start, the page listens for the agent (see agentHeard).
  const heard = agentHeard(page);
  heard.catch(() => {}); // awaited below; a failure before then fails the test there

  // The page says it is in a call, with the call's id.
  const inCall = page.getByRole('status').filter({ hasText: 'In a call with the agent' });
  await inCall.waitFor({ timeout: T });
  const id = await inCall.getByRole('link').innerText();
  assert.match(id, /^web-/);

  // The live fleet view: a worker busy with this call.
  await fleet.locator('tr[data-state=busy]', { hasText: id }).waitFor({ timeout: T });

  const { peak, starts } = await heard;
  console.log(`# test call ${id}: the page heard the agent at ${starts.join(' and ')} ms after its player appeared, peak ${peak.toFixed(3)} of full scale`);
  await audit(page, 'agent-test-call');
  await page.evaluate(() => {
    clearTimeout(window.__level.timer);
    return window.__level.ac.close();
  });

  // Hang up: the button comes back, the worker is free, and the call is in
  // Calls with an ended status.
  await page.getByRole('button', { name: 'Hang up' }).click();
  await page.getByRole('button', { name: 'Start a test call' }).waitFor({ timeout: T });
  assert.equal(await page.locator('audio').count(), 0, 'the player is removed');
  await fleet.locator('tr[data-state=busy]', { hasText: id }).waitFor({ state: 'detached', timeout: T });
  await go(page, 'Calls');
  const row = page.locator(`tr[data-call="${id}"]`);
  await row
    .filter({ hasText: /completed|failed|busy|no-answer|canceled/ })
    .waitFor({ timeout: T })
    .catch(async (e) => {
      throw new Error(`${e.message}\nthe call's row: ${await row.innerText().catch(() => 'none')}`);
    });
  assert.match(await row.innerText(), /completed/);
  // Its detail: a browser call the caller ended.
  await row.getByRole('link', { name: id }).click();
  await page.getByRole('heading', { name: `Call ${id}` }).waitFor({ timeout: T });
  const facts = await page.locator('#call-facts').locator('..').innerText();
  assert.match(facts, /Carrier\s+browser \(widget\)/);
  assert.match(facts, /End cause\s+caller hangup/);
  s.check();
  await s.close();
});

test('a viewer sees no edit control', async () => {
  const s = await session();
  const page = await s.page();
  await signIn(page, viewer);
  await go(page, 'Agents');
  await page.getByRole('link', { name: 'Reception' }).waitFor({ timeout: T });
  assert.equal(await page.getByRole('button', { name: 'Create agent' }).count(), 0);
  await page.getByRole('link', { name: 'Reception' }).click();
  await page.getByRole('heading', { name: 'Agent Reception' }).waitFor({ timeout: T });
  assert.equal(await page.getByRole('button', { name: 'Save agent' }).count(), 0);
  assert.ok(await page.getByLabel('Greeting').isDisabled(), 'agent fields are read only');
  await settled(page);
  assert.equal(await page.getByRole('heading', { name: 'Test call' }).count(), 0, 'no test call for a viewer');
  assert.equal(await page.getByRole('button', { name: 'Start a test call' }).count(), 0, 'no test call button');
  await go(page, 'Campaigns');
  await page.getByRole('link', { name: 'Spring renewals' }).click();
  await page.getByRole('heading', { name: 'Campaign Spring renewals' }).waitFor({ timeout: T });
  await settled(page);
  for (const name of ['Start', 'Pause', 'Upload']) assert.equal(await page.getByRole('button', { name }).count(), 0, name);
  await go(page, 'Campaigns');
  assert.equal(await page.getByRole('button', { name: 'Create campaign' }).count(), 0);
  await go(page, 'Do-not-call');
  await settled(page);
  assert.equal(await page.getByRole('button', { name: 'Add' }).count(), 0);
  await go(page, 'Fleets');
  await settled(page);
  assert.equal(await page.getByRole('button', { name: /Add fleet host|Disable/ }).count(), 0);
  await go(page, 'Users & keys');
  await page.getByText('Only admins manage users and API keys.').waitFor({ timeout: T });
  s.check();
  await s.close();
});

test('two tabs refreshing an expired token at once both stay signed in', async () => {
  const s = await session();
  // The expired access token is refused once per tab before the refresh.
  s.allow(/HTTP 401: GET .*\/api\/v1\/auth\/me/);
  s.allow(/console error: Failed to load resource: the server responded with a status of 401/);
  const one = await s.page();
  await signIn(one, owner);
  const two = await s.page();
  await two.goto(BASE + '/agents');
  await two.getByRole('heading', { name: 'Agents', level: 1 }).waitFor({ timeout: T });
  const before = await one.evaluate(() => JSON.parse(localStorage.getItem('vox.session')));
  await one.evaluate(() => {
    const s = JSON.parse(localStorage.getItem('vox.session'));
    localStorage.setItem('vox.session', JSON.stringify({ ...s, access_token: 'expired' }));
  });
  await Promise.all([one.reload(), two.reload()]);
  await one.getByRole('heading', { name: 'Live fleet', level: 1 }).waitFor({ timeout: T });
  await two.getByRole('heading', { name: 'Agents', level: 1 }).waitFor({ timeout: T });
  await two.getByRole('link', { name: 'Reception' }).waitFor({ timeout: T });
  const after = await one.evaluate(() => JSON.parse(localStorage.getItem('vox.session')));
  assert.notEqual(after.refresh_token, before.refresh_token, 'the refresh token rotated');
  assert.equal(await one.getByLabel('Password').count(), 0, 'tab one still signed in');
  assert.equal(await two.getByLabel('Password').count(), 0, 'tab two still signed in');
  s.check();
  await s.close();
});

test('keyboard: a skip link first, and focus is visible', async () => {
  const s = await session();
  const page = await s.page();
  await signIn(page, owner);
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
  for (let i = 0; i < 6; i++) {
    await page.keyboard.press('Tab');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.notEqual(outline, 'none', `focused element ${i} shows no focus`);
  }
  // The navigation works from the keyboard.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Calls' }).focus();
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Calls', level: 1 }).waitFor({ timeout: T });
  s.check();
  await s.close();
});

test('every page: no serious accessibility violation, screenshots at desktop and 360 px', async () => {
  assert.ok(state.callId && state.campaignId && state.agentId, 'needs the records of the previous tests');
  const s = await session();
  const page = await s.page();
  await signIn(page, owner);
  // One page load, then in-app navigation, as a person uses the Console: a
  // full reload per page would open a new event stream each time while the
  // server has not yet noticed the last one closed.
  const visit = (path) =>
    page.evaluate((p) => {
      history.pushState(null, '', p);
      dispatchEvent(new PopStateEvent('popstate'));
    }, path);
  // The key shown once.
  await visit('/people');
  await page.getByLabel('Key name').fill('wallboard');
  await page.getByRole('button', { name: 'Create key' }).click();
  await page.getByText('Copy the key now: it is shown only once.').waitFor({ timeout: T });
  assert.match(await page.locator('code.key').innerText(), /^vox_/);
  await audit(page, 'people');
  for (const [name, path, heading] of [
    ['fleet', '/fleet', 'Live fleet'],
    ['calls', '/calls', 'Calls'],
    ['call', `/calls/${state.callId}`, `Call ${state.callId}`],
    ['agents', '/agents', 'Agents'],
    ['agent', `/agents/${state.agentId}`, 'Agent Reception'],
    ['campaigns', '/campaigns', 'Campaigns'],
    ['campaign', `/campaigns/${state.campaignId}`, 'Campaign Spring renewals'],
    ['do-not-call', '/do-not-call', 'Do-not-call list'],
    ['numbers', '/numbers', 'Phone numbers'],
    ['fleets', '/fleets', 'Fleets'],
  ]) {
    await visit(path);
    await page.getByRole('heading', { name: heading, level: 1 }).waitFor({ timeout: T });
    await audit(page, name);
    if (name === 'campaign') {
      // The test call was one of the campaign's: one dial, answered, no abandon.
      const figures = await page.locator('#cp-figures').locator('..').innerText();
      assert.match(figures, /Dials\s+1\s+Answers\s+1\s+Pacing ratio\s+1\.00\s+Abandon rate\s+0\.0 %/);
      await page.getByRole('img', { name: /Abandon rate over time/ }).waitFor({ timeout: T });
    }
  }
  s.check();
  await s.close();
});
