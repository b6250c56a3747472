/**
 * Opening the page of a run (demo/) in the browser and reading its state
 * (`window.crnnDemo`): shared by the browser test (demo.ts) and the
 * measurements (demo-bench.ts).
 */
import type { Browser, Page } from 'playwright-core';
import type { DemoHooks } from '../lib/demo/site-data';

declare global {
  interface Window {
    crnnDemo: DemoHooks;
  }
}

const READY_TIMEOUT_MS = 120_000;
export const VIEWPORT = { width: 1280, height: 1000 };

/** The page's state, without its functions. */
export async function hooks(page: Page): Promise<DemoHooks> {
  return page.evaluate(() => ({ ...window.crnnDemo, timePredictions: undefined }));
}

/** Opens the page and waits until it is ready with its first prediction, or shows an error. */
export async function open(browser: Browser, url: string): Promise<Page> {
  const page = await browser.newPage({ viewport: VIEWPORT });
  page.on('pageerror', (err) => console.log(`     page error: ${err.message}`));
  await page.goto(url);
  await page.waitForFunction(() => window.crnnDemo?.state === 'error' || (window.crnnDemo?.state === 'ready' && window.crnnDemo.predictions > 0),
    null, { timeout: READY_TIMEOUT_MS });
  return page;
}
