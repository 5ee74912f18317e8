// A provincial officer on a 360 px phone: log in, find the commune's submitted form on the
// approvals page, return it with a comment, (after the commune submits again from its entry
// page, on a phone with script turned off) approve and lock it, and read the reporting progress.
// Usage: node approvals.mjs BASE_URL SCREENSHOT_DIR USERNAME PASSWORD COMMUNE_USERNAME
import assert from 'node:assert/strict';
import { phone, anotherPhone, fitsWidth } from './lib.mjs';

const [base, shots, user, password, communeUser] = process.argv.slice(2);
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

  // the commune submits again from its entry page, on a phone with script turned off: the
  // button is a plain form that comes back to the page
  const xa = await anotherPhone(browser, { javaScriptEnabled: false });
  await xa.page.goto(base + '/dang-nhap');
  await xa.page.getByLabel('Tên đăng nhập').fill(communeUser);
  await xa.page.getByLabel('Mật khẩu').fill(password);
  await xa.page.getByRole('button', { name: 'Đăng nhập' }).click();
  await xa.page.waitForURL((u) => !u.pathname.startsWith('/dang-nhap'));
  await xa.page.goto(base + '/nhap-lieu/BM-DTTS-02?ou=06877&pe=2025');
  assert.equal((await xa.page.locator('#approval-state').textContent()).trim(), 'bị trả lại');
  await xa.page.getByRole('button', { name: 'Nộp biểu để phê duyệt' }).click();
  await xa.page.waitForURL(/\/nhap-lieu\/BM-DTTS-02\?ou=06877&pe=2025&nop=1$/);
  assert.match(await xa.page.locator('p.ok').textContent(), /Đã nộp biểu để phê duyệt/);
  assert.equal((await xa.page.locator('#approval-state').textContent()).trim(), 'đã nộp');
  assert.notEqual(await xa.page.locator('input[name="v:x-cnscd-to:default"]').getAttribute('readonly'), null, 'not editable');
  assert.deepEqual(xa.errors, [], 'no resource errors without script');
  console.log('submitted again without script');
  // then approve and lock here
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
