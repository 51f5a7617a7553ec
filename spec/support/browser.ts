/**
 * Headless Chromium for the browser specs: launched once per file, skipped where
 * /usr/bin/chromium is missing; screenshots go to spec/.artifacts/ (gitignored).
 */
import { existsSync, mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { type Browser, chromium } from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'

/** True where the browser specs can run. */
export const HAS_CHROMIUM = existsSync(CHROMIUM)

/** Where screenshots are saved. */
export const ARTIFACTS = fileURLToPath(new URL('../.artifacts/', import.meta.url))

/** The path of the screenshot `name` (the folder is created). */
export function artifact(name: string): string {
  mkdirSync(ARTIFACTS, { recursive: true })
  return `${ARTIFACTS}${name}`
}

/** Launches headless Chromium (Debian's, no sandbox, no network of its own), with `extraArgs`. */
export function launch(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      ...extraArgs,
    ],
  })
}
