// An administrator on a 360 px phone: log in, create a commune officer, change the account,
// log out. Usage: node accounts.mjs BASE_URL SCREENSHOT_DIR USERNAME PASSWORD
import assert from 'node:assert/strict';
import { phone, fitsWidth } from './lib.mjs';

const [base, shots, user, password] = process.argv.slice(2);
const { browser, page, errors } = await phone();
try {
  await page.goto(base + '/quan-tri/nguoi-dung');
  // not logged in: sent to the login page, which returns here afterwards
  await page.waitForURL(/dang-nhap\?next=/);
  assert.equal((await page.locator('h1').textContent()).trim(), 'Đăng nhập');
  await page.getByLabel('Tên đăng nhập').fill(user);
  await page.getByLabel('Mật khẩu').fill('sai-mat-khau');
  await page.getByRole('button', { name: 'Đăng nhập' }).click();
  assert.match(await page.locator('.error').textContent(), /sai tên đăng nhập hoặc mật khẩu/);
  await page.getByLabel('Mật khẩu').fill(password);
  await page.getByRole('button', { name: 'Đăng nhập' }).click();
  await page.waitForURL(/quan-tri\/nguoi-dung$/);
  assert.equal((await page.locator('h1').textContent()).trim(), 'Người dùng');
  assert.ok(await fitsWidth(page), 'users page fits 360 px');

  // create a commune officer for xã Đông Ngũ
  const form = page.locator('form[action="/quan-tri/nguoi-dung"]');
  await form.getByLabel('Tên đăng nhập').fill('can-bo-dong-ngu');
  await form.getByLabel('Họ và tên').fill('Nguyễn Thị Hoa');
  await form.getByLabel('Vai trò').selectOption('commune_officer');
  await form.getByLabel(/Đơn vị phụ trách/).fill('06877');
  await form.getByLabel('Số điện thoại').fill('0912345678');
  await form.getByLabel('Mật khẩu').fill('Đông-Ngũ-2025');
  await form.getByRole('button', { name: 'Tạo người dùng' }).click();
  assert.match(await page.locator('.ok').textContent(), /Đã lưu/);
  const entry = page.locator('details.user', { hasText: 'can-bo-dong-ngu' });
  assert.match(await entry.locator('summary').textContent(), /Cán bộ cấp xã/);
  await entry.locator('summary').click();
  assert.equal(await entry.getByLabel('Số điện thoại').getAttribute('placeholder'), '09******78', 'the phone is masked');
  await page.screenshot({ path: `${shots}/users-360.png` });

  // a weak password is refused with the reason
  await entry.getByLabel(/Mật khẩu mới/).fill('123');
  await entry.getByRole('button', { name: 'Lưu' }).click();
  assert.match(await page.locator('.error').textContent(), /password/);

  // make them a viewer
  const again = page.locator('details.user', { hasText: 'can-bo-dong-ngu' });
  await again.locator('summary').click();
  await again.getByLabel('Vai trò').selectOption('viewer');
  await again.getByRole('button', { name: 'Lưu' }).click();
  assert.match(await page.locator('details.user', { hasText: 'can-bo-dong-ngu' }).locator('summary').textContent(), /Người xem/);
  await page.locator('details.user', { hasText: 'can-bo-dong-ngu' }).locator('summary').click();
  assert.equal(await page.locator('details.user', { hasText: 'can-bo-dong-ngu' }).getByLabel('Số điện thoại').getAttribute('placeholder'), '09******78', 'saving without a phone keeps it');

  // log out from the header
  await page.getByRole('button', { name: /Đăng xuất/ }).click();
  await page.waitForURL(base + '/');
  assert.equal(await page.getByRole('link', { name: 'Đăng nhập' }).count(), 1);
  assert.deepEqual(errors, [], 'no script errors');
  console.log('ok: accounts on a 360 px phone');
} finally {
  await browser.close();
}
