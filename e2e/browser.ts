/**
 * Headless Chromium, driven by playwright-core. The browser is the system's
 * (Debian's `chromium` package); playwright never downloads one.
 */
import * as fs from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Flags for a root user on a machine without network access. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-quic',
  '--no-first-run',
  // Without these Chromium keeps opening connections to Google services,
  // which a closed network refuses many at a time.
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
];

/** Launches headless Chromium in a fresh, empty profile (playwright makes a temp one). */
export async function launchChromium(executablePath: string): Promise<Browser> {
  if (!fs.existsSync(executablePath)) {
    throw new Error(`Chromium is not installed: ${executablePath} does not exist ` +
      '(install it with `apt-get install -y chromium`, or point CRNN_CHROMIUM at another build)');
  }
  return chromium.launch({
    executablePath, headless: true, args: CHROMIUM_ARGS, timeout: 60_000,
    // On a signal playwright would close the browser and exit at once, before the
    // caller shuts JupyterLab down: the caller handles signals and closes the browser.
    handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false,
  });
}
