/**
 * Content negotiation for streams (SPEC §4): a request opens an SSE stream
 * when its `Accept` names `text/event-stream` with q > 0, at least as high as
 * any JSON range it names. `*\/*` alone (curl's default) stays plain JSON.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-12.5.1
 */

/** True when the `Accept` header asks for an event stream. */
export function wantsEventStream(accept: string | undefined): boolean {
  if (!accept?.toLowerCase().includes('text/event-stream')) return false
  let sse = 0
  let json = 0
  for (const range of accept.split(',')) {
    const [type = '', ...params] = range.split(';').map((part) => part.trim().toLowerCase())
    let q = 1
    for (const param of params) {
      if (!param.startsWith('q=')) continue
      const value = Number(param.slice(2))
      q = Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0
    }
    if (type === 'text/event-stream') sse = Math.max(sse, q)
    else if (type === 'application/json' || type === 'application/*') json = Math.max(json, q)
  }
  return sse > 0 && sse >= json
}
