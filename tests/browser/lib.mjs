// Shared set-up for the browser tests: Debian's chromium, headless, driven by playwright-core.
import { chromium } from 'playwright-core';

export async function phone() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  // a 360 px phone
  const context = await browser.newContext({ viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'vi-VN' });
  const page = await context.newPage();
  const errors = [];
  // script errors, and sub-resources (styles, icons, scripts) that fail; a page answered with
  // 4xx on purpose (a refused login) is not an error of the page
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('requestfailed', (r) => errors.push(`${r.url()}: ${r.failure()?.errorText}`));
  page.on('response', (r) => { if (r.status() >= 400 && r.request().resourceType() !== 'document') errors.push(`${r.url()}: ${r.status()}`); });
  return { browser, context, page, errors };
}

/// The page must not scroll sideways on a 360 px screen (wide tables scroll inside their box).
export async function fitsWidth(page) {
  return page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
}
