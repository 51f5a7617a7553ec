/**
 * Cluster nodes for specs: in-process apps (createApp through
 * startClusterNode), each a real HTTP server on 127.0.0.1 port 0 with its
 * own ioredis connections, on a real redis-server (spec/support/redis.ts).
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Keelson } from '../../src/app.js'
import type { Cluster } from '../../src/cluster/cluster.js'
import { startClusterNode } from '../../src/cluster/index.js'
import type { Json } from '../../src/core/json.js'
import type { KeelsonOptions } from '../../src/options.js'
import { SseClient } from '../support/sse-client.js'

export interface Node {
  keelson: Keelson
  cluster: Cluster
  server: Server
  /** `http://127.0.0.1:PORT` */
  url: string
  close(): Promise<void>
}

/** Starts a node on `redisUrl` (caught up when it resolves) and listens. */
export async function startNode(
  redisUrl: string,
  options: Partial<KeelsonOptions> = {},
): Promise<Node> {
  const { keelson, cluster } = await startClusterNode(redisUrl, options)
  const server = createServer(keelson.app)
  keelson.attach(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  let closed = false
  return {
    keelson,
    cluster,
    server,
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      if (closed) return
      closed = true
      await cluster.close()
      keelson.close()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** PATCH `value` at `path` (below /signalk/v1/api/) on `node`. */
export function patch(url: string, path: string, value: Json): Promise<Response> {
  return fetch(`${url}/signalk/v1/api/${path}`, {
    method: 'PATCH',
    headers: { 'Content-Type': 'application/merge-patch+json' },
    body: JSON.stringify(value),
  })
}

/** GET the JSON at `path` on `url`, with its event id. */
export async function read(url: string, path = ''): Promise<{ body: Json; id: string | null }> {
  const res = await fetch(`${url}/signalk/v1/api/${path}`)
  return { body: (await res.json()) as Json, id: res.headers.get('x-keelson-event-id') }
}

/** Waits until `predicate` holds, polling every 20 ms; throws after `ms`. */
export async function until(predicate: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error('timed out waiting')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/**
 * Opens an SSE stream once more when the first request hangs up: a stream
 * the server just ended leaves its socket in node's keep-alive pool until
 * the server's close arrives, and a request sent on it then hangs up (a
 * browser retries it the same way).
 */
export function reopen(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  return SseClient.open(url, headers).catch((err: Error) => {
    if (!/socket hang up|ECONNRESET/.test(err.message)) throw err
    return SseClient.open(url, headers)
  })
}

/**
 * `method path` on `url` with `body` as JSON (a string is sent as it is);
 * the status and the parsed answer (undefined when empty).
 */
export async function call(
  url: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await res.text()
  return { status: res.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) }
}
