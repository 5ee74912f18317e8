// A commune officer on a 360 px phone: the forms page, the Excel template downloaded for their
// commune, uploaded back (a dry run, then for real), and a file that is not a form file refused
// with its reason. Usage: node form_files.mjs BASE_URL SCREENSHOT_DIR USERNAME PASSWORD
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { phone, fitsWidth } from './lib.mjs';

const [base, shots, user, password] = process.argv.slice(2);
const { browser, page, errors } = await phone();
try {
  await page.goto(base + '/dang-nhap?next=/bieu-mau');
  await page.getByLabel('Tên đăng nhập').fill(user);
  await page.getByLabel('Mật khẩu').fill(password);
  await page.getByRole('button', { name: 'Đăng nhập' }).click();
  await page.waitForURL(/bieu-mau$/);
  assert.equal((await page.locator('h1').textContent()).trim(), 'Biểu mẫu');
  assert.ok(await fitsWidth(page), 'forms page fits 360 px');

  const card = page.locator('#form-BM-DTTS-02');
  await card.getByLabel('Mã đơn vị').fill('06877');
  await card.getByLabel('Kỳ báo cáo').fill('2025');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    card.getByRole('button', { name: 'Tải mẫu Excel' }).click(),
  ]);
  assert.equal(download.suggestedFilename(), 'BM-DTTS-02_06877_2025.xlsx');
  const file = `${shots}/BM-DTTS-02_06877_2025.xlsx`;
  await download.saveAs(file);

  // the file back: a dry run, then written (nothing changed in it: every figure unchanged)
  const upload = card.locator('form.upload');
  await upload.getByLabel(/Tệp .xlsx/).setInputFiles(file);
  await upload.getByRole('button', { name: 'Tải lên' }).click();
  // the answer, whichever it is, so that a refusal is reported with its words
  await upload.locator('output .ok, output .error').first().waitFor({ timeout: 60000 });
  assert.match(await upload.locator('output').textContent(), /Kiểm tra xong, chưa ghi gì/);
  await upload.getByLabel('Chỉ kiểm tra, không ghi').uncheck();
  await upload.getByRole('button', { name: 'Tải lên' }).click();
  await page.waitForFunction(() => {
    const out = document.querySelector('#form-BM-DTTS-02 output');
    return out.querySelector('.error') || /^Đã nhập/.test(out.textContent);
  }, null, { timeout: 60000 });
  assert.match(await upload.locator('output').textContent(), /Đã nhập/);
  await page.screenshot({ path: `${shots}/forms-360.png`, fullPage: true });

  // not a form file: refused, the reason shown
  const bad = `${shots}/khong-phai-bieu.xlsx`;
  writeFileSync(bad, 'indicator,unit,period,value\n');
  await upload.getByLabel(/Tệp .xlsx/).setInputFiles(bad);
  await upload.getByRole('button', { name: 'Tải lên' }).click();
  await upload.locator('output .error').waitFor();
  assert.match(await upload.locator('output').textContent(), /not an \.xlsx file/);
  // expected: the refused upload's 400, and the download's navigation, which the browser
  // abandons for the file (ERR_ABORTED)
  const expected = (e) => /import\.xlsx.*400/.test(e) || /template\.xlsx.*ERR_ABORTED/.test(e);
  assert.deepEqual(errors.filter((e) => !expected(e)), [], 'no script errors');
  console.log('ok: forms page, template down and up on a 360 px phone');
} finally {
  await browser.close();
}
