import type { Browser } from 'playwright-core'
import { afterEach, describe, expect, it } from 'vitest'
import { HAS_CHROMIUM, launch } from '../support/browser.js'
import { type Running, start } from './support.js'

let running: Running | undefined
let browser: Browser | undefined
let timer: NodeJS.Timeout | undefined

afterEach(async () => {
  clearInterval(timer)
  await browser?.close()
  browser = undefined
  await running?.close()
  running = undefined
})

describe.skipIf(!HAS_CHROMIUM)('@signalk/instrumentpanel served by keelson', () => {
  it('shows a value written into the tree', async () => {
    running = await start()
    browser = await launch()
    const page = await browser.newPage()
    const errors: string[] = []
    page.on('pageerror', (err) => errors.push(err.message))
    await page.goto(`http://127.0.0.1:${running.port}/@signalk/instrumentpanel/`)
    // First visit: the panel opens its changelog over the instruments.
    await page.locator('.modal button.close').click()
    // The panel makes a widget on a path's first value and shows the values after it,
    // as a live feed would; keep the value coming.
    let tick = 0
    timer = setInterval(
      () => running?.write('environment.wind.speedApparent', 7.25 + (tick++ % 2) / 100),
      200,
    )
    await page.waitForFunction(() => (document.body.textContent ?? '').includes('7.3'), null, {
      timeout: 15_000,
    })
    expect(await page.locator('body').textContent()).toContain('m/s')
    await page.screenshot({ path: '/tmp/keelson-instrumentpanel.png' })
    expect(errors).toEqual([])
  })
})
