import { type Browser, chromium } from 'playwright-core'

/** The Chromium the browser tests drive: Debian's package, or CHROMIUM_PATH. */
export const chromiumPath: string = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium'

/** Starts a headless Chromium for a test; close it in the test's cleanup. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })
}
