// A provincial officer on a 360 px phone: log in, find the commune's submitted form on the
// approvals page, return it with a comment, (after the commune submits again) approve and lock
// it, and read the reporting progress.
// Usage: node approvals.mjs BASE_URL SCREENSHOT_DIR USERNAME PASSWORD COMMUNE_TOKEN
import assert from 'node:assert/strict';
import { phone, fitsWidth } from './lib.mjs';

const [base, shots, user, password, communeToken] = process.argv.slice(2);
const { browser, page, errors } = await phone();
try {
  await page.goto(base + '/phe-duyet');
  await page.waitForURL(/dang-nhap\?next=/);
  await page.getByLabel('Tên đăng nhập').fill(user);
  await page.getByLabel('Mật khẩu').fill(password);
  await page.getByRole('button', { name: 'Đăng nhập' }).click();
  await page.waitForURL(/phe-duyet$/);
  assert.equal((await page.locator('h1').textContent()).trim(), 'Phê duyệt biểu mẫu');
  assert.ok(await fitsWidth(page), 'approvals page fits 360 px');
  const card = page.locator('article.approval', { hasText: 'Xã Đông Ngũ' });
  assert.match(await card.textContent(), /đã nộp/);
  await page.screenshot({ path: `${shots}/approvals-360.png`, fullPage: true });

  // a return needs a comment: the browser asks for it before sending
  const ret = card.locator('form', { has: page.getByRole('button', { name: 'Trả lại' }) });
  await ret.getByLabel(/Ý kiến khi trả lại/).fill('Số thành viên nữ chưa khớp với danh sách');
  await ret.getByRole('button', { name: 'Trả lại' }).click();
  assert.match(await page.locator('.ok').textContent(), /Trả lại: biểu BM-DTTS-02 của Xã Đông Ngũ/);
  // the list shows waiting forms by default: show them all
  await page.getByLabel('Trạng thái').selectOption('all');
  await page.getByRole('button', { name: 'Xem' }).click();
  const back = page.locator('article.approval', { hasText: 'Xã Đông Ngũ' });
  assert.match(await back.textContent(), /bị trả lại/);
  assert.match(await back.locator('.comment').textContent(), /Số thành viên nữ chưa khớp/);
  console.log('returned');

  // the commune submits again (through the API, with its officer's token), then approve and lock here
  const resubmit = await fetch(base + '/api/approvals', {
    method: 'POST',
    headers: { Authorization: 'Bearer ' + communeToken, 'Content-Type': 'application/json' },
    body: JSON.stringify({ form: 'BM-DTTS-02', orgUnit: '06877', period: '2025', action: 'submit' }),
  });
  assert.equal(resubmit.status, 200, await resubmit.text());
  await page.reload();
  await page.locator('article.approval', { hasText: 'Xã Đông Ngũ' }).getByRole('button', { name: 'Duyệt' }).click();
  assert.match(await page.locator('.ok').textContent(), /Duyệt: .* đã duyệt/);
  await page.locator('article.approval', { hasText: 'Xã Đông Ngũ' }).getByRole('button', { name: 'Khóa' }).click();
  assert.match(await page.locator('.ok').textContent(), /Khóa: .* đã khóa/);
  assert.ok(await page.locator('article.approval', { hasText: 'Xã Đông Ngũ' }).getByRole('button', { name: 'Mở khóa' }).isVisible());

  // reporting progress for the province
  await page.getByRole('link', { name: 'Tiến độ báo cáo' }).first().click();
  await page.waitForURL(/tien-do/);
  await page.getByLabel('Biểu mẫu').selectOption('BM-DTTS-02');
  await page.getByLabel('Kỳ báo cáo').fill('2025');
  await page.getByRole('button', { name: 'Xem' }).click();
  assert.match(await page.locator('ul.totals').textContent(), /Đã nộp 1\//);
  assert.match(await page.locator('table.progress').textContent(), /Xã Đông Ngũ/);
  assert.ok(await fitsWidth(page), 'progress page fits 360 px');
  await page.screenshot({ path: `${shots}/progress-360.png` });
  await page.locator('table.progress tbody tr').first().scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${shots}/progress-table-360.png` });
  await page.locator('ul.overdue').scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${shots}/progress-overdue-360.png` });
  assert.deepEqual(errors, [], 'no script or resource errors');
  console.log('ok: approvals on a 360 px phone');
} finally {
  await browser.close();
}
