// Issue #4's whole story on 360 px phones, in order, as the officers would live it. A commune
// officer logs in on the login page and opens their commune's form for 2025 from their list;
// values are saved online (one answer lost on the way, so the batch is sent again and applied
// once); the network is cut, more values are typed, the page is reloaded with no network (the
// service worker's copy) and one more value typed; meanwhile a provincial officer changes one
// of the cells. When the network returns the queue is sent, the changed cell comes back as a
// conflict, the officer keeps their value, and every value is read back once through the API.
// The commune officer submits the form from the entry page; the provincial officer logs in on
// another phone and approves it on /phe-duyet; the values are in the API, and the entry page
// shows the form approved and read-only. The Rust side then checks in the database that every
// value reached the server exactly once and the approval's state and steps.
// Usage: node entry.mjs BASE_URL SCREENSHOT_DIR USERNAME PASSWORD OTHER_USERNAME
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { phone, anotherPhone, fitsWidth } from './lib.mjs';

const [base, shots, user, password, other] = process.argv.slice(2);
const { browser, context, page, errors } = await phone();
const status = () => page.locator('#entry-status').textContent();
const waitStatus = async (re, what) => {
  try {
    await page.waitForFunction((src) => new RegExp(src).test(document.getElementById('entry-status').textContent), re.source, { timeout: 20000 });
  } catch (e) {
    throw new Error(`${what}: the status line says ${JSON.stringify(await status())}`);
  }
};
const cell = (ind, dis) => page.locator(`input[name="v:${ind}:${dis}"]`);
const type = async (ind, dis, v) => { await cell(ind, dis).fill(v); await cell(ind, dis).press('Tab'); };

// the form's values for the commune and 2025, through the API (DHIS2's dataValueSets), as
// `indicator/disaggregation → [values]`: one entry per value stored
async function formValues(request) {
  const r = await request.get(`${base}/api/dataValueSets?dataSet=BM-DTTS-01&orgUnit=06877&period=2025`);
  assert.equal(r.status(), 200, await r.text());
  const out = new Map();
  for (const v of (await r.json()).dataValues) {
    const k = `${v.dataElement}/${v.categoryOptionCombo}`;
    out.set(k, [...(out.get(k) || []), v.value]);
  }
  return out;
}
// what this story typed, and the province's cell kept as the commune officer's
const typed = {
  '0101/E08.M': '22', '0101/E08.F': '19', 'x-ho-dtts/E08': '9', 'x-ho-ngheo-dtts/E08': '3',
  'x-pop-total/M': '4321', 'x-pop-total/F': '4567',
};
function eachOnce(values, who) {
  for (const [k, v] of Object.entries(typed)) {
    assert.deepEqual(values.get(k), [v], `${k} through the API for ${who}`);
  }
}

// the provincial officer, through the API with their own session
async function otherOfficerSets(ind, dis, value) {
  const login = await fetch(`${base}/api/auth/login`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: other, password }),
  });
  assert.equal(login.status, 200, 'the provincial officer logs in');
  const cookie = login.headers.getSetCookie().find((c) => c.startsWith('dantoc_session=')).split(';')[0];
  const csrf = (await login.json()).csrfToken;
  const grid = await (await fetch(`${base}/api/forms/BM-DTTS-01/entry?ou=06877&pe=2025&eth=08`, { headers: { Cookie: cookie } })).json();
  const c = grid.sections.flatMap((s) => s.items).filter((i) => i.indicator === ind)
    .flatMap((i) => i.rows).flatMap((r) => r.cells).find((x) => x.disagg === dis);
  const values = [{ indicator: ind, disagg: dis, value, baseVersion: c.version }];
  const canonical = JSON.stringify(['BM-DTTS-01', '06877', '2025', values.map((v) => [v.indicator, v.disagg, v.value, null, v.baseVersion])]);
  const r = await fetch(`${base}/api/dataEntry`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Cookie: cookie, 'X-CSRF-Token': csrf },
    body: JSON.stringify({
      batchId: crypto.randomUUID(), hash: createHash('sha256').update(canonical).digest('hex'),
      form: 'BM-DTTS-01', orgUnit: '06877', period: '2025', values,
    }),
  });
  const answer = await r.json();
  assert.equal(r.status, 200, JSON.stringify(answer));
  assert.equal(answer.values[0].status, 'saved', JSON.stringify(answer));
}

try {
  await page.goto(base + '/dang-nhap?next=/nhap-lieu');
  await page.getByLabel('Tên đăng nhập').fill(user);
  await page.getByLabel('Mật khẩu').fill(password);
  await page.getByRole('button', { name: 'Đăng nhập' }).click();
  await page.waitForURL(/\/nhap-lieu$/);
  assert.ok(await fitsWidth(page), 'the list of forms fits 360 px');

  // the form for the commune and 2025, from the officer's list
  await page.locator('a[href="/nhap-lieu/BM-DTTS-01?ou=06877&pe=2025"]').click();
  await page.waitForURL(/BM-DTTS-01\?ou=06877&pe=2025$/);
  assert.match(await page.locator('h1').textContent(), /Biểu 01\/DT/);
  // a row for an ethnic group not yet present in the commune: HMông
  await page.locator('form.add-row select').selectOption('08');
  await page.locator('form.add-row button').click();
  await page.waitForURL(/eth=08/);
  assert.equal(await cell('0101', 'E08.M').getAttribute('inputmode'), 'decimal');
  // ready for offline use: the service worker is active and the page kept
  await page.waitForSelector('html[data-offline-ready="1"]', { timeout: 20000 });
  await waitStatus(/^Đã lưu$/, 'a fresh page');
  assert.ok(await fitsWidth(page), 'the entry page fits 360 px (tables scroll in their box)');

  // online: by keyboard, Enter moves to the next cell
  await cell('0101', 'E08.M').fill('21');
  await cell('0101', 'E08.M').press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement.name), 'v:0101:E08.F');
  await page.keyboard.type('19');
  await page.keyboard.press('Tab');
  await waitStatus(/^Đã lưu$/, 'two cells saved online');
  const hmong = page.locator('tr', { has: cell('0101', 'E08.M') });
  assert.equal((await hmong.locator('td.total').textContent()).trim(), '40', 'the row total');

  // an answer lost on the way: the server applies the batch, the page does not hear back and
  // sends the same batch again
  const answers = [];
  page.on('response', async (r) => {
    if (r.url().endsWith('/api/dataEntry') && r.ok()) answers.push(await r.json().catch(() => ({})));
  });
  let lost = 0;
  await page.route('**/api/dataEntry', async (route) => {
    if (lost === 0) {
      lost++;
      const r = await route.fetch();
      assert.equal(r.status(), 200);
      await route.abort('connectionreset');
    } else {
      await route.continue();
    }
  });
  await type('x-ho-dtts', 'E08', '9');
  await waitStatus(/^Đã lưu$/, 'the batch sent again after a lost answer');
  assert.equal(lost, 1);
  // the answer's body is read asynchronously by the listener: wait for it (up to 5 s)
  const dup = (a) => a.duplicate === true && a.values[0].indicator === 'x-ho-dtts';
  for (let i = 0; i < 50 && !answers.some(dup); i++) await page.waitForTimeout(100);
  assert.ok(answers.some(dup),
    `the second sending was answered as a duplicate: ${JSON.stringify(answers)}`);
  await page.unroute('**/api/dataEntry');

  // the network is cut
  await context.setOffline(true);
  await waitStatus(/^Ngoại tuyến/, 'offline');
  await type('x-ho-ngheo-dtts', 'E08', '3');
  await type('x-pop-total', 'M', '4321');
  await waitStatus(/^Ngoại tuyến — đang chờ gửi \(2\)$/, 'two values queued offline');
  // meanwhile the province corrects the HMông men, which this officer changes too
  await otherOfficerSets('0101', 'E08.M', '25');
  await type('0101', 'E08.M', '22');
  await waitStatus(/\(3\)$/, 'three values queued');

  // reloaded with no network: the service worker's copy, the queue still there
  const again = await page.reload();
  assert.equal(again.headers()['x-dantoc-offline-copy'], '1', 'the page comes from the offline copy');
  await waitStatus(/^Ngoại tuyến — đang chờ gửi \(3\)$/, 'the queue after an offline reload');
  assert.equal(await cell('x-ho-ngheo-dtts', 'E08').inputValue(), '3');
  assert.equal(await cell('x-pop-total', 'M').inputValue(), '4321');
  assert.equal(await cell('0101', 'E08.M').inputValue(), '22');
  assert.equal(await cell('0101', 'E08.F').inputValue(), '19', 'saved online, shown after the reload');
  await type('x-pop-total', 'F', '4567');
  await waitStatus(/\(4\)$/, 'one more value queued');
  // the form cannot be submitted while values wait in the queue
  await page.getByRole('button', { name: 'Nộp biểu để phê duyệt' }).click();
  assert.match(await page.locator('#approval-out').textContent(), /^Còn giá trị chưa gửi/);
  assert.ok(await fitsWidth(page), 'the offline page fits 360 px');
  await page.screenshot({ path: `${shots}/entry-offline-360.png`, fullPage: true });

  // the network returns: the queue goes; the cell changed by the province is a conflict
  await context.setOffline(false);
  await waitStatus(/^Đã lưu · 1 ô xung đột$/, 'sent, with one conflict');
  const td = page.locator('td', { has: cell('0101', 'E08.M') });
  assert.ok(await td.evaluate((e) => e.classList.contains('conflict')));
  assert.match(await td.locator('small.msg').textContent(), /Trên máy chủ: 25/);
  await page.screenshot({ path: `${shots}/entry-conflict-360.png`, fullPage: true });
  await td.getByRole('button', { name: 'Giữ giá trị của tôi' }).click();
  await waitStatus(/^Đã lưu$/, 'the conflict resolved');
  assert.equal(await cell('0101', 'E08.M').inputValue(), '22');
  assert.ok(!(await td.evaluate((e) => e.classList.contains('conflict'))));

  // every value reached the server, once
  eachOnce(await formValues(page.request), 'the commune officer');

  // the commune submits the form for approval, from the entry page
  const submit = page.getByRole('button', { name: 'Nộp biểu để phê duyệt' });
  assert.ok(await submit.isVisible());
  const navigated = page.locator('p.ok', { hasText: 'Đã nộp biểu để phê duyệt' }).waitFor({ timeout: 20000 }).then(() => true, () => false);
  const refused = page.locator('#approval-out').filter({ hasText: /^Chưa nộp được/ }).waitFor({ timeout: 20000 }).then(() => false, () => false);
  await submit.click();
  if (!(await Promise.race([navigated, refused]))) {
    throw new Error(`the submission: ${await page.locator('#approval-out').textContent().catch(() => '?')}`);
  }
  assert.equal((await page.locator('#approval-state').textContent()).trim(), 'đã nộp');
  assert.match(page.url(), /BM-DTTS-01\?ou=06877&pe=2025&eth=08$/, 'the notice is said once, not on a reload');
  assert.ok(await cell('0101', 'E08.M').evaluate((e) => e.readOnly), 'a submitted form is not editable');
  assert.equal(await page.locator('#approval-form').count(), 0, 'submitted once');

  // a provincial officer, on another phone, logs in and approves it
  const tinh = await anotherPhone(browser);
  await tinh.page.goto(base + '/phe-duyet');
  await tinh.page.waitForURL(/dang-nhap\?next=/);
  await tinh.page.getByLabel('Tên đăng nhập').fill(other);
  await tinh.page.getByLabel('Mật khẩu').fill(password);
  await tinh.page.getByRole('button', { name: 'Đăng nhập' }).click();
  await tinh.page.waitForURL(/phe-duyet$/);
  const card = tinh.page.locator('article.approval', { hasText: 'BM-DTTS-01' });
  assert.match(await card.textContent(), /Xã Đông Ngũ[\s\S]*đã nộp/);
  assert.match(await card.textContent(), /can-bo-dong-ngu/, 'who submitted');
  assert.ok(await fitsWidth(tinh.page), 'the approvals page fits 360 px');
  await card.getByRole('button', { name: 'Duyệt', exact: true }).click();
  assert.match(await tinh.page.locator('.ok').textContent(), /Duyệt: biểu BM-DTTS-01 của Xã Đông Ngũ .* đã duyệt/);
  await tinh.page.screenshot({ path: `${shots}/entry-approved-by-province-360.png`, fullPage: true });
  // the values are in the API
  eachOnce(await formValues(tinh.page.request), 'the provincial officer');
  assert.deepEqual(tinh.errors, [], 'no script or resource errors for the province');

  // the commune's entry page shows the form approved, read-only
  await page.reload();
  assert.equal((await page.locator('#approval-state').textContent()).trim(), 'đã duyệt');
  assert.equal(await page.locator('p.ok').count(), 0, 'no notice of the submission any more');
  assert.ok(await page.locator('#approval-note').isVisible());
  assert.ok(await cell('0101', 'E08.M').evaluate((e) => e.readOnly), 'an approved form is not editable');
  assert.equal(await cell('0101', 'E08.M').inputValue(), '22');
  assert.equal(await page.locator('#approval-form').count(), 0);
  assert.equal(await page.getByRole('button', { name: 'Lưu tất cả' }).count(), 0);
  assert.ok(await fitsWidth(page), 'the approved page fits 360 px');
  await page.screenshot({ path: `${shots}/entry-approved-360.png`, fullPage: true });

  // a lost answer and offline requests fail on purpose; nothing else may
  const unexpected = errors.filter((e) => !/ERR_INTERNET_DISCONNECTED|api\/dataEntry: net::ERR_CONNECTION_RESET/.test(e));
  assert.deepEqual(unexpected, []);
  console.log('ok: entered online, offline and back, conflict resolved, submitted and approved, on 360 px phones');
} finally {
  await browser.close();
}
