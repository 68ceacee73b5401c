import { type Browser, chromium, type Page } from 'playwright-core'
import { PNG } from 'pngjs'

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

/**
 * Takes a screenshot of the page as a person would see it and returns the share of its pixels
 * (0 to 1) that differ from its most common colour, the background: near 0 for a blank page,
 * a few percent for a page with text, more with pictures or video.
 */
export async function paintedShare(page: Page): Promise<number> {
  const png = PNG.sync.read(await page.screenshot())
  const counts = new Map<number, number>()
  const { data } = png
  for (let i = 0; i < data.length; i += 4) {
    const colour = data.readUInt32BE(i)
    counts.set(colour, (counts.get(colour) ?? 0) + 1)
  }
  const background = Math.max(...counts.values())
  const pixels = data.length / 4
  return (pixels - background) / pixels
}
