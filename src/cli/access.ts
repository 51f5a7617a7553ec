/**
 * `keelson access list|approve|deny` (SPEC §8): answering device access
 * requests from the command line, in another process than the server. The
 * requests live in the security file; a running keelson sees the answer
 * within seconds and the device gets its token when it next polls.
 *
 * @see https://signalk.org/specification/1.7.0/doc/access_requests.html
 */
import type { Command } from './commands.js'
import { readSecurityArgs, type SecurityUsage, usageOf, withSecurityFile } from './security-args.js'

const LIST: SecurityUsage = {
  name: 'access list',
  words: [],
  description: 'Lists the pending device access requests, oldest first.',
}
const APPROVE: SecurityUsage = {
  name: 'access approve',
  words: ['ID'],
  type: 'optional',
  description:
    "Approves a pending request (by its requestId or the device's clientId). The device\n" +
    'gets the type it asked for (readonly when it asked for none) unless --type says another.',
}
const DENY: SecurityUsage = {
  name: 'access deny',
  words: ['ID'],
  description: "Denies a pending request (by its requestId or the device's clientId).",
}

async function list(args: readonly string[]): Promise<void> {
  const parsed = readSecurityArgs(args, LIST)
  if (parsed.help) return void process.stdout.write(usageOf(LIST))
  await withSecurityFile(parsed, async (store, file) => {
    const pending = store.pendingAccessRequests()
    if (pending.length === 0) {
      return void process.stderr.write(`no pending access requests in ${file}\n`)
    }
    const rows = [['REQUEST ID', 'CLIENT ID', 'ASKS FOR', 'FROM', 'SINCE', 'DESCRIPTION']]
    for (const r of pending) {
      rows.push([
        r.requestId,
        r.clientId,
        r.permissions ?? '-',
        r.ip ?? '-',
        r.requestedAt,
        r.description,
      ])
    }
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)) + 2)
    const text = rows.map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('')
        .trimEnd(),
    )
    process.stdout.write(`${text.join('\n')}\n`)
  })
}

async function approve(args: readonly string[]): Promise<void> {
  const parsed = readSecurityArgs(args, APPROVE)
  if (parsed.help) return void process.stdout.write(usageOf(APPROVE))
  await withSecurityFile(parsed, async (store) => {
    const request = await store.approveAccessRequest(parsed.words[0]!, parsed.type)
    process.stdout.write(
      `approved device "${request.clientId}" as ${request.granted} (request ${request.requestId})\n`,
    )
  })
}

async function deny(args: readonly string[]): Promise<void> {
  const parsed = readSecurityArgs(args, DENY)
  if (parsed.help) return void process.stdout.write(usageOf(DENY))
  await withSecurityFile(parsed, async (store) => {
    const request = await store.denyAccessRequest(parsed.words[0]!)
    process.stdout.write(`denied device "${request.clientId}" (request ${request.requestId})\n`)
  })
}

/** The `access` commands, for src/cli/commands.ts. */
export const ACCESS_COMMANDS: Readonly<Record<string, Command>> = {
  'access list': { summary: 'list pending device access requests', run: list },
  'access approve': { summary: 'ID [--type TYPE]  approve a device access request', run: approve },
  'access deny': { summary: 'ID  deny a device access request', run: deny },
}
