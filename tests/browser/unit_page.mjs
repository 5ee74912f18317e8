// A villager or officer on a 360 px phone: home → province → search "dong ngu" → the commune's
// data for a chosen period → its successor after the 2025 reform.
// Usage: node unit_page.mjs BASE_URL SCREENSHOT_DIR
import assert from 'node:assert/strict';
import { phone, fitsWidth } from './lib.mjs';

const [base, shots] = process.argv.slice(2);
const { browser, page, errors } = await phone();
try {
  await page.goto(base + '/');
  assert.match(await page.title(), /Dữ liệu công tác dân tộc/);
  assert.ok(await fitsWidth(page), 'home page fits 360 px');
  await page.getByRole('link', { name: 'Tỉnh Quảng Ninh' }).first().click();
  assert.equal((await page.locator('h1').textContent()).trim(), 'Tỉnh Quảng Ninh');

  // search without diacritics, from the header form
  await page.getByRole('searchbox').fill('dong ngu');
  await page.getByRole('button', { name: 'Tìm' }).click();
  await page.waitForURL(/tim-kiem/);
  const hits = page.getByRole('link', { name: 'Xã Đông Ngũ' });
  assert.ok(await hits.count() >= 2, 'both the pre- and post-2025 Đông Ngũ are found');

  // the pre-2025 commune: published figures, lineage flagged as estimated
  await page.goto(base + '/don-vi/06877?v=2024');
  assert.equal((await page.locator('h1').textContent()).trim(), 'Xã Đông Ngũ');
  // the latest period is shown first; the others are one tap away
  assert.equal((await page.locator('.periods [aria-current=page]').textContent()).trim(), '2024');
  await page.getByRole('link', { name: '2021', exact: true }).click();
  assert.equal((await page.locator('.periods [aria-current=page]').textContent()).trim(), '2021');
  assert.doesNotMatch(await page.locator('table.data').textContent(), /45,6/, '2021 has only generated values');
  await page.getByRole('link', { name: '2024', exact: true }).click();
  const table = page.locator('table.data');
  await table.waitFor();
  const text = await table.textContent();
  assert.match(text, /83/, 'the published 83 team members are shown');
  assert.match(text, /45,6/, 'the published 45.6 % uses a decimal comma');
  assert.match(await page.locator('ul.lineage').textContent(), /ước tính/);
  assert.ok(await fitsWidth(page), 'unit page fits 360 px');
  await page.screenshot({ path: `${shots}/unit-360.png`, fullPage: false });

  // follow the lineage to the current commune
  await page.locator('ul.lineage a', { hasText: 'Xã Đông Ngũ' }).click();
  assert.match(page.url(), /\/don-vi\/06877$/);
  assert.match(await page.locator('table.facts').textContent(), /từ 1\/7\/2025/);

  // English is one click away and stays on the page
  await page.getByRole('link', { name: 'English' }).click();
  assert.match(await page.locator('table.facts').textContent(), /from 1 July 2025/);
  assert.deepEqual(errors, [], 'no script errors');
  console.log('ok: unit page on a 360 px phone');
} finally {
  await browser.close();
}
