// The map page on a 360 px phone: Cao Bằng's communes and villages, layers on and off, the
// time slider, zoom (finer boundaries are fetched), a unit tapped and its figures shown; then
// offline, the slider and the layers still work. Screenshots must not be blank.
// Usage: node map.mjs BASE_URL SCREENSHOT_DIR
import assert from 'node:assert/strict';
import { phone, fitsWidth, pngStats } from './lib.mjs';

const [base, shots] = process.argv.slice(2);
const { browser, context, page, errors } = await phone();
// fill of each commune by its code (a chosen one is moved last, to draw its outline on top)
const fills = () => page.$$eval('#map .units path', (ps) => Object.fromEntries(ps.map((p) => [p.dataset.code, p.getAttribute('fill')])));
const viewBox = () => page.$eval('#map-svg', (s) => { const v = s.viewBox.baseVal; return [v.x, v.y, v.width, v.height]; });
// a point inside a commune, on screen, where nothing else is on top of it
const spotOf = (code) => page.evaluate((code) => {
  const p = document.querySelector(`#map .units path[data-code="${code}"]`);
  const b = p.getBBox();
  const m = p.getScreenCTM();
  for (let i = 1; i < 12; i++) {
    for (let j = 1; j < 12; j++) {
      const pt = new DOMPoint(b.x + (b.width * i) / 12, b.y + (b.height * j) / 12);
      if (!p.isPointInFill(pt)) continue;
      const s = pt.matrixTransform(m);
      if (document.elementFromPoint(s.x, s.y) === p) return { x: s.x, y: s.y };
    }
  }
  return null;
}, code);
const check = async (name, shot, drawn = 0.2) => {
  const s = await pngStats(shot);
  assert.ok(s.colours >= 20 && s.drawn > drawn, `${name} is not blank: ${JSON.stringify(s)}`);
  return s;
};

try {
  // from the navigation
  await page.goto(base + '/');
  await page.locator('header nav a', { hasText: 'Bản đồ' }).click();
  await page.waitForURL(/\/ban-do$/);
  assert.match(await page.locator('h1').textContent(), /Bản đồ: Tỉnh Quảng Ninh/);

  // Cao Bằng: 56 communes, its villages, figures for every year of the demo
  await page.goto(base + '/ban-do?ou=04');
  assert.equal((await page.locator('h1').textContent()).trim(), 'Bản đồ: Tỉnh Cao Bằng');
  assert.equal(await page.locator('#map .units path').count(), 56);
  const villages = await page.locator('#map .villages circle').count();
  assert.ok(villages > 300, `villages: ${villages}`);
  assert.ok(await page.locator('#map .villages circle.v1').count() > 5, 'villages without coverage in 2025');
  assert.ok(await fitsWidth(page), 'the map page fits 360 px');
  const box = await page.locator('#map').boundingBox();
  assert.ok(box.width <= 360 && box.height > 150, JSON.stringify(box));
  await check('the map', await page.locator('#map').screenshot({ path: `${shots}/map-360.png` }));

  // layers: villages off and on, figures off (outlines only)
  const villageBox = page.locator('input[name=lop][value=thon]');
  await villageBox.uncheck();
  assert.ok(await page.locator('#map').evaluate((m) => m.classList.contains('no-villages')));
  assert.ok(!(await page.locator('#map .villages circle').first().isVisible()), 'villages hidden');
  assert.match(page.url(), /lop=_/);
  assert.doesNotMatch(page.url(), /lop=thon/);
  const figuresBox = page.locator('input[name=lop][value=so-lieu]');
  await figuresBox.uncheck();
  const noFill = await page.$eval('#map .units path', (p) => getComputedStyle(p).fillOpacity);
  assert.equal(noFill, '0', 'figures hidden: outlines only');
  await check('the outlines', await page.locator('#map').screenshot({ path: `${shots}/map-outlines-360.png` }), 0.05);
  await figuresBox.check();
  await villageBox.check();
  assert.ok(await page.locator('#map .villages circle').first().isVisible());

  // the time slider: back to the first year, the map and the legend change
  const latest = await fills();
  const steps = await page.locator('#map-step').getAttribute('max');
  assert.ok(+steps >= 3, `periods: ${+steps + 1}`);
  assert.equal((await page.locator('#map-step-out').textContent()).trim(), 'Năm 2025');
  await page.locator('#map-step').focus();
  await page.keyboard.press('Home');
  assert.equal((await page.locator('#map-step-out').textContent()).trim(), 'Năm 2021');
  assert.equal((await page.locator('#map-period').textContent()).trim(), 'Năm 2021');
  const first = await fills();
  assert.equal(Object.keys(first).length, 56);
  assert.ok(Object.keys(first).some((c) => first[c] !== latest[c]), 'colours follow the period');
  assert.match(page.url(), /t=0/);
  // no coverage figures before 2025: the villages turn grey
  assert.equal(await page.locator('#map .villages circle.v1').count(), 0);
  await page.keyboard.press('End');
  assert.deepEqual(await fills(), latest);

  // zoom in twice with the button: the view is four times smaller, finer boundaries come
  const before = await viewBox();
  const finer = page.waitForResponse((r) => r.url().includes('/api/maps/boundaries.json') && r.status() === 200);
  await page.getByRole('button', { name: 'Phóng to' }).click();
  await page.getByRole('button', { name: 'Phóng to' }).click();
  const zoomed = await viewBox();
  assert.ok(Math.abs(zoomed[2] - before[2] / 4) < 1e-6, `${before} → ${zoomed}`);
  const body = await (await finer).json();
  assert.equal(body.detail, 4);
  assert.ok(Object.keys(body.paths).length > 0);
  await page.waitForFunction(() => document.querySelector('#map .units path[data-detail="4"]'));
  // pan by dragging
  const mb = await page.locator('#map-svg').boundingBox();
  await page.mouse.move(mb.x + mb.width / 2, mb.y + mb.height / 2);
  await page.mouse.down();
  await page.mouse.move(mb.x + mb.width / 2 - 60, mb.y + mb.height / 2 - 20, { steps: 5 });
  await page.mouse.up();
  const panned = await viewBox();
  assert.ok(panned[0] > zoomed[0] && Math.abs(panned[2] - zoomed[2]) < 1e-6, `${zoomed} → ${panned}`);
  await page.getByRole('button', { name: 'Xem toàn bộ' }).click();
  assert.deepEqual(await viewBox(), before);
  // the mouse wheel zooms where the pointer is
  await page.mouse.move(mb.x + mb.width / 3, mb.y + mb.height / 2);
  await page.mouse.wheel(0, -300);
  await page.waitForFunction((w) => document.getElementById('map-svg').viewBox.baseVal.width < w, before[2]);
  await page.getByRole('button', { name: 'Xem toàn bộ' }).click();

  // tap a commune: its figures, by year, and its chart
  const code = await page.$eval('#map .units path', (p) => p.dataset.code);
  const name = await page.$eval('#map .units path', (p) => p.dataset.name);
  await villageBox.uncheck();
  const at = await spotOf(code);
  assert.ok(at, `a visible point of ${code}`);
  await page.mouse.click(at.x, at.y);
  const panel = page.locator('#map-panel');
  await panel.waitFor();
  assert.equal((await page.locator('#panel-name').textContent()).trim(), name);
  assert.match(await page.locator('#panel-now').textContent(), /^Năm 2025: [\d.]+ người/);
  assert.equal(await page.locator('#panel-rows tr').count(), +steps + 1);
  const chart = page.locator('#panel-chart');
  await page.waitForFunction(() => document.getElementById('panel-chart').complete);
  assert.ok(await chart.evaluate((i) => i.naturalWidth) > 0, 'the chart is drawn by the server');
  assert.match(await page.locator('#panel-villages').textContent(), /thôn, bản trên bản đồ/);
  assert.match(await page.locator('#panel-map').getAttribute('href'), new RegExp(`ou=${code}`));
  await villageBox.check();
  await check('the map with a unit chosen', await page.screenshot({ path: `${shots}/map-unit-360.png`, fullPage: true }));
  assert.deepEqual(errors, [], 'no script error, no failed request');

  // offline: the page keeps working from what it holds
  await context.setOffline(true);
  await page.locator('#map-step').focus();
  await page.keyboard.press('Home');
  assert.equal((await page.locator('#map-period').textContent()).trim(), 'Năm 2021');
  assert.deepEqual(await fills(), first);
  assert.equal(await page.locator('#panel-rows tr.current th').textContent(), 'Năm 2021');
  await villageBox.uncheck();
  assert.ok(!(await page.locator('#map .villages circle').first().isVisible()));
  await page.getByRole('button', { name: 'Phóng to' }).click();
  assert.ok((await viewBox())[2] < before[2]);
  await check('the map offline', await page.locator('#map').screenshot({ path: `${shots}/map-offline-360.png` }));
  await context.setOffline(false);
  console.log(`ok: map page (${villages} villages, ${+steps + 1} periods)`);
} finally {
  await browser.close();
}
