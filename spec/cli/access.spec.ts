import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { accessRequestReply } from '../../src/security/access-requests.js'
import { SecurityStore } from '../../src/security/store.js'
import { verifyToken } from '../../src/security/tokens.js'
import { CLI_TIMEOUT_MS, runKeelson } from '../support/keelson-cli.js'

let dir: string
let file: string
let server: SecurityStore

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keelson-access-'))
  file = join(dir, 'security.json')
  server = await SecurityStore.open(file, pino({ level: 'silent' }), { pollMs: 50 })
})

afterEach(async () => {
  server.close()
  await rm(dir, { recursive: true, force: true })
})

describe('keelson access', () => {
  it(
    'lists the pending requests a running server recorded',
    async () => {
      const request = await server.requestAccess(
        { clientId: 'plotter-1', description: 'Cockpit plotter', permissions: 'readwrite' },
        '192.0.2.7',
      )
      const listed = await runKeelson(['access', 'list', '--security', file])
      expect(listed.code).toBe(0)
      const [header, row] = listed.stdout.trimEnd().split('\n')
      expect(header).toMatch(/^REQUEST ID\s+CLIENT ID\s+ASKS FOR\s+FROM\s+SINCE\s+DESCRIPTION$/)
      expect(row!.split(/\s{2,}/)).toEqual([
        request.requestId,
        'plotter-1',
        'readwrite',
        '192.0.2.7',
        request.requestedAt,
        'Cockpit plotter',
      ])
    },
    CLI_TIMEOUT_MS,
  )

  it(
    'approves a request in another process: the server sees the device and the device gets its token',
    async () => {
      const request = await server.requestAccess({ clientId: 'plotter-1', description: 'Plotter' })
      const approved = await runKeelson([
        'access',
        'approve',
        request.requestId,
        '--type',
        'readonly',
        '--security',
        file,
      ])
      expect(approved).toEqual({
        code: 0,
        stdout: `approved device "plotter-1" as readonly (request ${request.requestId})\n`,
        stderr: '',
      })
      await vi.waitFor(() => expect(server.findDevice('plotter-1')?.permissions).toBe('readonly'), {
        timeout: 5000,
      })
      const reply = accessRequestReply(server.accessRequest(request.requestId)!)
      expect(reply.accessRequest?.permission).toBe('APPROVED')
      const claims = await verifyToken(server.current.secretKey, reply.accessRequest!.token!)
      expect(claims.device).toBe('plotter-1')
      const listed = await runKeelson(['access', 'list', '--security', file])
      expect(listed).toEqual({
        code: 0,
        stdout: '',
        stderr: `no pending access requests in ${file}\n`,
      })
    },
    CLI_TIMEOUT_MS,
  )

  it(
    'denies a request named by the device clientId',
    async () => {
      const request = await server.requestAccess({ clientId: 'tablet', description: 'Tablet' })
      const denied = await runKeelson(['access', 'deny', 'tablet', '--security', file])
      expect(denied.code).toBe(0)
      await vi.waitFor(
        () => expect(server.accessRequest(request.requestId)?.permission).toBe('DENIED'),
        { timeout: 5000 },
      )
      expect(server.findDevice('tablet')).toBeUndefined()
    },
    CLI_TIMEOUT_MS,
  )

  it(
    'exits 2 for an unknown request, a bad type or a missing id',
    async () => {
      const cases: [string[], RegExp][] = [
        [['access', 'approve', 'no-such-id'], /No pending access request "no-such-id"/],
        [['access', 'deny', 'no-such-id'], /No pending access request "no-such-id"/],
        [['access', 'approve', 'x', '--type', 'root'], /--type must be one of/],
        [['access', 'approve'], /needs ID/],
        [['access', 'deny', 'x', '--type', 'admin'], /unknown or incomplete option "--type"/],
      ]
      const outcomes = await Promise.all(
        cases.map(([args]) => runKeelson([...args, '--security', file])),
      )
      outcomes.forEach((outcome, i) => {
        const [args, message] = cases[i]!
        expect(outcome.code, args.join(' ')).toBe(2)
        expect(outcome.stderr).toMatch(message)
      })
    },
    CLI_TIMEOUT_MS,
  )

  it(
    'prints the usage of each subcommand with --help',
    async () => {
      const help = await runKeelson(['access', 'approve', '--help'])
      expect(help.code).toBe(0)
      expect(help.stdout).toMatch(/^Usage: keelson access approve ID \[--type TYPE\]/)
    },
    CLI_TIMEOUT_MS,
  )
})
