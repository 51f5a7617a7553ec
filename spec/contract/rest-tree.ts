/**
 * Writes and reads of the tree over REST with fetch (SPEC §3), shared by
 * every transport's adapter: whatever carries the stream, the tree is
 * written and read the same way.
 */
import type { Json } from '../../src/core/json.js'
import type { ContractServer, TreeAnswer } from './adapter.js'

/** Where the REST API is mounted. */
export const API = '/signalk/v1/api'

/** `path` (keys joined with `/`) as a URL path below {@link API}, each key percent-encoded. */
export function apiPath(path: string): string {
  return `${API}/${path === '' ? '' : path.split('/').map(encodeURIComponent).join('/')}`
}

async function answer(res: Response): Promise<TreeAnswer> {
  const text = await res.text()
  let body: Json = null
  try {
    body = text === '' ? null : (JSON.parse(text) as Json)
  } catch {
    body = text
  }
  return {
    status: res.status,
    eventId: res.headers.get('x-keelson-event-id') ?? undefined,
    body,
    contentType: res.headers.get('content-type') ?? '',
  }
}

/** REST `send` and `get` against the server at `baseUrl` (`http://127.0.0.1:PORT`). */
export function restTree(baseUrl: string): Pick<ContractServer, 'send' | 'get'> {
  return {
    async send(method, path, body, contentType = 'application/json') {
      const headers: Record<string, string> =
        body === undefined ? {} : { 'Content-Type': contentType }
      return answer(await fetch(baseUrl + apiPath(path), { method, headers, body }))
    },
    async get(path) {
      const res = await fetch(baseUrl + apiPath(path), { headers: { Accept: 'application/json' } })
      const got = await answer(res)
      // A missing path reads as null, as a stream's snapshot of it does.
      return res.status === 404 ? { ...got, body: null } : got
    },
  }
}
