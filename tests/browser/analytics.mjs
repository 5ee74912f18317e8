// A leader on a 360 px phone: choose a pivot in the form, sort it, see its chart, save it as a
// report table, open it again by its link, and look at the dashboard.
// Usage: node analytics.mjs BASE_URL SCREENSHOT_DIR USERNAME PASSWORD
import assert from 'node:assert/strict';
import { phone, fitsWidth } from './lib.mjs';

const [base, shots, user, password] = process.argv.slice(2);
const { browser, page, errors } = await phone();
const num = (s) => Number(s.replace(/\./g, '').replace(',', '.').replace(/[^0-9.-]/g, ''));
const imagesLoaded = () => page.evaluate(() =>
  Promise.all([...document.images].map((i) => i.complete ? i : new Promise((r) => { i.onload = i.onerror = r; })))
    .then(() => [...document.images].map((i) => i.naturalWidth)));
try {
  // log in first: saving a report table needs an account
  await page.goto(base + '/dang-nhap?next=/phan-tich');
  await page.getByLabel('Tên đăng nhập').fill(user);
  await page.getByLabel('Mật khẩu').fill(password);
  await page.getByRole('button', { name: 'Đăng nhập' }).click();
  await page.waitForURL(/phan-tich/);

  // the form: DTTS population of Quảng Ninh's communes in 2024, minorities and Kinh apart
  const form = page.locator('form[action="/phan-tich"]');
  if (!(await form.isVisible())) await page.locator('details.choose summary').click();
  await form.locator('select[name=dx]').selectOption(['0101']);
  await form.locator('input[name=ou]').fill('22');
  await form.locator('select[name=level]').selectOption('2');
  await form.locator('input[name=pe]').fill('2024');
  await form.locator('select[name=eth]').selectOption('groups');
  await form.getByRole('button', { name: 'Xem bảng' }).click();
  await page.waitForSelector('table.pivot tbody tr');
  const rows = await page.locator('table.pivot tbody tr').count();
  assert.ok(rows > 20, `one row per commune: ${rows}`);
  assert.ok(await fitsWidth(page), 'the pivot page fits 360 px (the table scrolls in its box)');
  const heads = await page.locator('table.pivot thead tr:last-child th a').allTextContents();
  assert.ok(heads.some((h) => h.includes('Dân tộc thiểu số')), heads.join('|'));

  // sort by the minorities' column, largest first, by following its link
  await page.locator('table.pivot thead tr:last-child th a', { hasText: 'Dân tộc thiểu số' }).click();
  await page.waitForURL(/sort=/);
  let link = page.locator('table.pivot thead tr:last-child th a', { hasText: 'Dân tộc thiểu số' });
  if (!(await link.textContent()).includes('▼')) {
    await link.click();
    await page.waitForURL(/desc=1/);
    link = page.locator('table.pivot thead tr:last-child th a', { hasText: 'Dân tộc thiểu số' });
  }
  assert.ok((await link.textContent()).includes('▼'));
  const col = heads.findIndex((h) => h.includes('Dân tộc thiểu số'));
  const vals = await page.locator(`table.pivot tbody tr td:nth-of-type(${col + 1})`).allTextContents();
  const nums = vals.filter((v) => v.trim() !== '').map(num);
  assert.ok(nums.length > 20, vals.join('|'));
  for (let i = 1; i < nums.length; i++) assert.ok(nums[i - 1] >= nums[i], `sorted: ${nums[i - 1]} ≥ ${nums[i]}`);

  // the chart is drawn by the server
  const widths = await imagesLoaded();
  assert.ok(widths.length >= 1 && widths.every((w) => w > 0), `chart loaded: ${widths}`);
  await page.screenshot({ path: `${shots}/pivot-360.png`, fullPage: true });

  // save it, then open it by its link
  await page.locator('details', { hasText: 'Lưu thành bảng báo cáo' }).locator('summary').click();
  await page.getByLabel('Tên bảng').fill('DTTS theo xã, Quảng Ninh');
  await page.getByRole('button', { name: 'Lưu', exact: true }).click();
  const saved = page.locator('#save-table output a');
  await saved.waitFor();
  assert.match(await saved.textContent(), /Đã lưu: DTTS theo xã, Quảng Ninh/);
  await saved.click();
  await page.waitForURL(/bang=\d+/);
  assert.equal((await page.locator('h1').textContent()).trim(), 'DTTS theo xã, Quảng Ninh');
  await page.goto(base + '/bao-cao?q=dtts theo xa');
  assert.equal(await page.locator('ul.results li a').first().textContent(), 'DTTS theo xã, Quảng Ninh');

  // the dashboard: charts, targets, key figures
  await page.goto(base + '/bang-dieu-khien?unit=22');
  assert.match(await page.locator('h1').textContent(), /Tỉnh Quảng Ninh/);
  const charts = await imagesLoaded();
  assert.equal(charts.length, 4, 'three charts and a map');
  assert.ok(charts.every((w) => w > 0), `charts loaded: ${charts}`);
  assert.ok((await page.locator('meter').count()) >= 10, 'target progress of the ten plan targets');
  assert.ok(await fitsWidth(page), 'the dashboard fits 360 px');
  await page.screenshot({ path: `${shots}/dashboard-360.png`, fullPage: true });

  // targets page
  await page.goto(base + '/muc-tieu?unit=22');
  assert.ok((await page.locator('table.targets tbody tr').count()) >= 10);
  assert.ok(await fitsWidth(page), 'the targets page fits 360 px');

  assert.deepEqual(errors, []);
  console.log('ok: analytics pages on a 360 px phone');
} finally {
  await browser.close();
}
