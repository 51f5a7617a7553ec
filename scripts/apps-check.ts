/**
 * `npx tsx scripts/apps-check.ts [--only NAMES] [--url URL] [--out FILE]`:
 * the catalogue of what goes wrong when a boat owner uses KIP 4.8.5 and
 * Freeboard-SK 3.1.1 served by keelson (issue 14). Installs the apps with
 * `npm install --no-save` outside the repo (spec/apps/harness.ts), starts
 * keelson replaying the demo voyage, and runs the scenarios of
 * spec/apps/scenarios.ts in headless Chromium with no network beyond
 * 127.0.0.1:
 *
 * - `kip`: KIP opened on a server without users, watched for 8 s;
 * - `freeboard`: Freeboard-SK likewise;
 * - `kip-login`: KIP logs in to a server with a user and saves its configuration;
 * - `freeboard-waypoint`: Freeboard saves a waypoint, lists it after a reload, Go To it.
 *
 * With `--url` it opens `kip` and `freeboard` on another server instead (the
 * apps must be installed there), and `freeboard-waypoint` (data needed: a
 * position, a speed) and `kip-login` (the user SKIPPER needed) when named in
 * `--only`: how signalk-server 2.32.0 was compared.
 * Writes a Markdown catalogue to FILE (default /tmp/apps-catalogue.md) and
 * exits 1 when any failure counts against keelson.
 */
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { type Failure, installApps, SKIPPER, serveApps } from '../spec/apps/harness.js'
import {
  FREEBOARD,
  freeboardWaypoint,
  isErrorToast,
  isFailure,
  isUpstream,
  KIP,
  kipLogin,
  type Outcome,
  openApp,
} from '../spec/apps/scenarios.js'
import { HAS_CHROMIUM, launch } from '../spec/support/browser.js'

const ALL = ['kip', 'freeboard', 'kip-login', 'freeboard-waypoint']
const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    url: { type: 'string' },
    out: { type: 'string', default: '/tmp/apps-catalogue.md' },
  },
})
const only = new Set(
  values.only?.split(',') ?? (values.url === undefined ? ALL : ['kip', 'freeboard']),
)
if (!HAS_CHROMIUM) {
  console.error('apps-check: /usr/bin/chromium is missing (apt-get install chromium)')
  process.exit(2)
}

const git = (...args: string[]): string => {
  try {
    return execFileSync('git', args, { encoding: 'utf8' }).trim()
  } catch {
    return ''
  }
}

const outcomes: Outcome[] = []
const browser = await launch()
try {
  if (values.url !== undefined) {
    const origin = values.url.replace(/\/$/, '')
    if (only.has('kip')) outcomes.push(await openApp(browser, origin, 'kip', KIP))
    if (only.has('freeboard')) outcomes.push(await openApp(browser, origin, 'freeboard', FREEBOARD))
    if (only.has('freeboard-waypoint'))
      outcomes.push(await freeboardWaypoint(browser, { url: origin }))
    // Against a server where SKIPPER exists (signalk-server: a bcrypt hash in its security.json).
    if (only.has('kip-login')) {
      const login = async (username: string, password = '') => {
        const res = await fetch(`${origin}/signalk/v1/auth/login`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ username, password }),
        })
        return ((await res.json()) as { token: string }).token
      }
      outcomes.push(await kipLogin(browser, { url: origin, login }))
    }
  } else {
    const installed = await installApps()
    if ('skip' in installed) {
      console.error(`apps-check: ${installed.skip}`)
      process.exit(2)
    }
    const open = await serveApps(installed.modules, [], {}, 75)
    try {
      if (only.has('kip')) outcomes.push(await openApp(browser, open.url, 'kip', KIP))
      if (only.has('freeboard'))
        outcomes.push(await openApp(browser, open.url, 'freeboard', FREEBOARD))
      if (only.has('freeboard-waypoint')) outcomes.push(await freeboardWaypoint(browser, open))
    } finally {
      await open.close()
    }
    if (only.has('kip-login')) {
      const secured = await serveApps(installed.modules, [SKIPPER])
      try {
        outcomes.push(await kipLogin(browser, secured))
      } finally {
        await secured.close()
      }
    }
  }
} finally {
  await browser.close()
}

/** Whose part of issue 14 a failure falls in, by what it names. */
const AREAS: [RegExp, string][] = [
  [/\/signalk\/v2\/api\/resources|resources-provider|"resources\./, 'resources (src/resources)'],
  [/navigation\/course|navigation\.course/, 'course (src/course)'],
  [
    /applicationData|\/plugins|\/skServer|\/signalk\/v2\/features|unitpreferences|radars|requestId|Configuration sharing|KIP plugin/,
    'server APIs (src/signalk/put-request.ts, app-data.ts, server-apis.ts)',
  ],
]

function areaOf(f: Failure): string {
  return AREAS.find(([re]) => re.test(f.text))?.[1] ?? 'unassigned'
}

/** Failures grouped by text, with how many times each was seen. */
function grouped(failures: Failure[], area = false): string[] {
  const counts = new Map<string, number>()
  for (const f of failures) {
    const key = `${f.kind}: ${f.text}${area ? ` — ${areaOf(f)}` : ''}`
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  return [...counts].map(([key, n]) => `${key}${n > 1 ? ` (×${n})` : ''}`)
}

const lines: string[] = [
  '# KIP 4.8.5 and Freeboard-SK 3.1.1: catalogue of failures',
  '',
  `Run ${new Date().toISOString()} against ${values.url ?? `keelson ${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--', 'src') ? ' (working tree with uncommitted src changes)' : ''}`} by \`npx tsx scripts/apps-check.ts\`.`,
  '',
]
let counted = 0
for (const o of outcomes) {
  const against = o.failures.filter(isFailure)
  const upstream = o.failures.filter(isUpstream)
  const news = o.failures.filter((f) => f.kind === 'toast' && !isErrorToast(f.text))
  counted += against.length + o.problems.length
  lines.push(`## ${o.name}: ${against.length + o.problems.length === 0 ? 'OK' : 'FAILING'}`, '')
  if (o.problems.length)
    lines.push('Checks that did not hold:', ...o.problems.map((p) => `- ${p}`), '')
  if (against.length) lines.push('Failures:', ...grouped(against, true).map((f) => `- ${f}`), '')
  if (upstream.length) {
    lines.push(
      'Also failing against signalk-server 2.32.0:',
      ...grouped(upstream).map((f) => `- ${f}`),
      '',
    )
  }
  if (news.length) lines.push('Other toasts:', ...news.map((f) => `- ${f.text}`), '')
  if (o.notes.length) lines.push('Seen:', ...o.notes.map((n) => `- ${n}`), '')
  const hosts = [...new Set(o.blocked.map((b) => new URL(b.split(' ')[1] as string).host))]
  if (hosts.length)
    lines.push(`Blocked (internet): ${o.blocked.length} requests to ${hosts.join(', ')}`, '')
  lines.push(`Requests: ${o.requests.filter((r) => !/\.\w+$/.test(r)).join(', ')}`, '')
  lines.push(`Screenshots: ${o.shots.join(', ')}`, '')
}
// What is left, by whose part of issue 14 it falls in: the first thing the lead reads.
const byArea = new Map<string, Set<string>>()
for (const o of outcomes) {
  for (const f of o.failures.filter(isFailure)) {
    const key =
      f.kind === 'http' ? f.text.replace(/\?\S*/, '') : `${f.kind}: ${f.text.slice(0, 160)}`
    byArea.set(areaOf(f), (byArea.get(areaOf(f)) ?? new Set()).add(key))
  }
  for (const p of o.problems) {
    byArea.set('checks', (byArea.get('checks') ?? new Set()).add(`${o.name}: ${p.slice(0, 200)}`))
  }
}
const summary = ['## Summary by area', '']
if (byArea.size === 0) summary.push('Nothing counts against keelson.')
for (const [area, items] of byArea) summary.push(`- ${area}:`, ...[...items].map((i) => `  - ${i}`))
lines.splice(4, 0, ...summary, '')
writeFileSync(values.out as string, `${lines.join('\n')}\n`)
console.log(lines.join('\n'))
process.exit(counted === 0 ? 0 : 1)
