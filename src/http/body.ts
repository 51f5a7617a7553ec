/**
 * Request bodies: media type, size limit, UTF-8 decoding, then JSON parsing
 * and validation, all before anything touches the tree (SPEC §1 limits, §3
 * status codes).
 */
import type { IncomingMessage } from 'node:http'
import { Errors, KeelsonError } from '../core/errors.js'
import type { Json } from '../core/json.js'
import { parseJson } from '../core/validate.js'

/** Limits and expectations for one body. */
export interface BodyOptions {
  /** Accepted media types (lower case, no parameters). */
  types: readonly string[]
  /** Largest body accepted, bytes (`maxBodyBytes`, default 1 MiB). */
  limit: number
  /** Deepest nesting accepted (`maxDepth`, default 64). */
  maxDepth: number
  /** Whether object members may be null (merge patches) or not (PUT). */
  allowNullMembers: boolean
}

/**
 * JSON text is UTF-8 (RFC 8259 §8.1): invalid bytes are refused, never
 * replaced by U+FFFD. A leading byte order mark is ignored, as §8.1 allows
 * (TextDecoder drops it unless told `ignoreBOM`).
 */
const UTF8 = new TextDecoder('utf-8', { fatal: true })

/** The media type of a request, lower case, without parameters. */
export function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
}

/**
 * Reads, checks and parses a JSON body; throws a {@link KeelsonError} on any
 * refusal: 415 for a media type not in `types`, 413 past `limit` (declared
 * or counted; the rest of the body is left unread and the answer, through
 * `sendProblem`, closes the connection), 400 for bytes that are not UTF-8,
 * text that is not JSON, and for a forbidden key anywhere in the text, even
 * one a later duplicate key hides from `JSON.parse`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8259#section-8.1
 */
export async function readJsonBody(req: IncomingMessage, options: BodyOptions): Promise<Json> {
  const type = mediaType(req)
  if (!options.types.includes(type)) {
    throw new KeelsonError(
      Errors.UNSUPPORTED_MEDIA_TYPE,
      `Content-Type "${type || '(none)'}" is not accepted here; send ${options.types.join(' or ')}`,
    )
  }
  const declared = Number(req.headers['content-length'])
  if (declared > options.limit) throw tooLarge(options.limit)
  const bytes = await readBytes(req, options.limit)
  let text: string
  try {
    text = UTF8.decode(bytes)
  } catch {
    throw new KeelsonError(Errors.BAD_JSON, 'The body is not valid UTF-8')
  }
  return parseJson(text, options)
}

/**
 * The body's bytes, up to `limit`. Past it the request is paused, not
 * destroyed: destroying it would destroy the socket before the 413 is
 * written, and reading on would let the parser start the next pipelined request.
 */
function readBytes(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (req.readableEnded) return resolve(Buffer.alloc(0))
    if (req.destroyed) return reject(cutShort())
    const chunks: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        stop()
        req.pause()
        reject(tooLarge(limit))
        return
      }
      chunks.push(chunk)
    }
    const onEnd = () => {
      stop()
      resolve(Buffer.concat(chunks, size))
    }
    // An error on a request is its connection's: reset or aborted mid-body.
    const onCut = () => {
      stop()
      reject(cutShort())
    }
    const stop = () => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onCut)
      req.off('close', onCut)
    }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onCut)
    req.on('close', onCut)
  })
}

/** The 413 of a body past `limit` bytes, declared or counted. */
export function tooLarge(limit: number): KeelsonError {
  return new KeelsonError(Errors.TOO_LARGE, `The body is larger than ${limit} bytes`)
}

function cutShort(): KeelsonError {
  return new KeelsonError(Errors.BAD_REQUEST, 'The connection closed before the body ended')
}
