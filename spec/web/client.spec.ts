/**
 * The client library as browsers get it: `/client.js`, imported by a page
 * in headless Chromium, over `EventSource` (resume by `?lastEventId=`).
 */
import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Restartable } from '../client/restartable.js'
import { applyStep, PATH, readPath, stepArb } from '../client/steps.js'
import { until } from '../client/until.js'
import { HAS_CHROMIUM, launch } from '../support/browser.js'

let browser: Browser | undefined

beforeAll(async () => {
  if (HAS_CHROMIUM) browser = await launch()
})

afterAll(async () => {
  await browser?.close()
})

type Client = typeof import('../../src/client/index.js')

/** Opens a page of `server` that has imported /client.js as `window.client`. */
async function withClient(server: Restartable): Promise<Page> {
  const page = await browser!.newPage()
  await page.goto(`${server.url}/healthz`)
  // A module script, not import() in evaluate: vitest would rewrite the import() of the test's source.
  await page.addScriptTag({
    type: 'module',
    content: "import * as client from '/client.js'; window.client = client",
  })
  await page.waitForFunction(() => 'client' in window)
  return page
}

/** Starts a subscription to `path` in `page` as `window.sub` (closing the one before). */
async function subscribeIn(page: Page, path: string): Promise<void> {
  await page.evaluate((url) => {
    const win = window as unknown as { client: Client; sub?: { close(): void } }
    win.sub?.close()
    const statuses: string[] = []
    Object.assign(window, {
      statuses,
      sub: win.client.subscribe(url, {
        backoff: { initialMs: 5, maxMs: 40 },
        onStatus: (status: string) => statuses.push(status),
      }),
    })
  }, `/signalk/v1/api${path}`)
  // Steps start once it is live: a drop before its first connection would be no reconnection at all.
  await page.waitForFunction(
    () => (window as unknown as { sub: { status: string } }).sub.status === 'live',
  )
}

type Seen = { status: string; state: unknown; statuses: string[] }

function seen(page: Page): Promise<Seen> {
  return page.evaluate(() => {
    const { sub, statuses } = window as unknown as { sub: Seen; statuses: string[] }
    return { status: sub.status, state: sub.state, statuses }
  })
}

describe.skipIf(!HAS_CHROMIUM)('/client.js in headless Chromium', () => {
  it('is an ES module exporting subscribe, applyMergePatch and the SSE parser', async () => {
    const server = await Restartable.start()
    let page: Page | undefined
    try {
      const res = await fetch(`${server.url}/client.js`)
      expect(res.headers.get('content-type')).toMatch(/^text\/javascript/)
      page = await withClient(server)
      const names = await page.evaluate(() =>
        Object.keys((window as unknown as { client: Client }).client),
      )
      expect(names).toEqual(expect.arrayContaining(['SseParser', 'applyMergePatch', 'subscribe']))
    } finally {
      await page?.close()
      await server.close()
    }
  })

  it('folds a state equal to a GET across random writes, deletes, dropped connections and restarts', async () => {
    // One page on one port for every run: each run starts with a fresh app on that port.
    const server = await Restartable.start()
    const page = await withClient(server)
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 6 }), async (steps) => {
          await server.replace()
          await subscribeIn(page, PATH)
          for (const step of steps) {
            await applyStep(server, step)
            let expected: unknown
            let last: Seen | undefined
            await until(
              async () => {
                expected = await readPath(server)
                last = await seen(page)
                return last.status === 'live' && isDeepStrictEqual(last.state, expected)
              },
              5000,
              () =>
                `after ${JSON.stringify(step)}: GET ${JSON.stringify(expected)}, page ${JSON.stringify(last)}`,
            )
          }
          const { statuses } = await seen(page)
          expect(statuses[0]).toBe('connecting')
          if (steps.some((s) => s.kind === 'drop' || s.kind === 'restart')) {
            expect(statuses).toContain('reconnecting')
          }
        }),
        { numRuns: 10 },
      )
    } finally {
      await page.close()
      await server.close()
    }
  })
})
