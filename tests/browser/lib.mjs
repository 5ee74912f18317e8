// Shared set-up for the browser tests: Debian's chromium, headless, driven by playwright-core.
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

export async function phone() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return { browser, ...(await anotherPhone(browser)) };
}

/// A second 360 px phone in the same browser (its own cookies, storage and network): another
/// officer. `options` go to the context (`{ javaScriptEnabled: false }`: a phone with script off).
export async function anotherPhone(browser, options = {}) {
  const context = await browser.newContext({ viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'vi-VN', ...options });
  const page = await context.newPage();
  const errors = [];
  // script errors, and sub-resources (styles, icons, scripts) that fail; a page answered with
  // 4xx on purpose (a refused login) is not an error of the page
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('requestfailed', (r) => errors.push(`${r.url()}: ${r.failure()?.errorText}`));
  page.on('response', (r) => { if (r.status() >= 400 && r.request().resourceType() !== 'document') errors.push(`${r.url()}: ${r.status()}`); });
  return { context, page, errors };
}

/// The page must not scroll sideways on a 360 px screen (wide tables scroll inside their box).
export async function fitsWidth(page) {
  return page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
}

/// What a PNG (8-bit RGB or RGBA, not interlaced — what chromium's screenshots are) holds:
/// its size, how many distinct colours, and the share of pixels that differ from its most
/// common colour (the background). Decoded with node's zlib: no image library needed.
export async function pngStats(buf) {
  const { inflateSync } = await import('node:zlib');
  assert.equal(buf.subarray(0, 8).toString('hex'), '89504e470d0a1a0a', 'a PNG');
  let pos = 8, width = 0, height = 0, bpp = 0;
  const idat = [];
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString('ascii', pos + 4, pos + 8);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const depth = data[8], colour = data[9], interlace = data[12];
      assert.equal(depth, 8, '8 bits per channel');
      assert.equal(interlace, 0, 'not interlaced');
      bpp = { 2: 3, 6: 4 }[colour];
      assert.ok(bpp, `RGB or RGBA, not colour type ${colour}`);
    } else if (type === 'IDAT') {
      idat.push(data);
    }
    pos += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * bpp;
  const px = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? px[y * stride + x - bpp] : 0;
      const b = y > 0 ? px[(y - 1) * stride + x] : 0;
      const c = x >= bpp && y > 0 ? px[(y - 1) * stride + x - bpp] : 0;
      let v = line[x];
      if (f === 1) v += a;
      else if (f === 2) v += b;
      else if (f === 3) v += (a + b) >> 1;
      else if (f === 4) {
        const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      px[y * stride + x] = v & 255;
    }
  }
  const counts = new Map();
  for (let i = 0; i < px.length; i += bpp) {
    const k = (px[i] << 16) | (px[i + 1] << 8) | px[i + 2];
    counts.set(k, (counts.get(k) || 0) + 1);
  }
  const common = Math.max(...counts.values());
  const total = width * height;
  return { width, height, colours: counts.size, drawn: 1 - common / total };
}
