/**
 * Request bodies: media type, size limit, then JSON parsing and validation,
 * all before anything touches the tree (SPEC §1 limits, §3 status codes).
 */
import type { IncomingMessage } from 'node:http'
import { Errors, KeelsonError } from '../core/errors.js'
import type { Json } from '../core/json.js'
import { parseJson } from '../core/validate.js'

/** Limits and expectations for one body. */
export interface BodyOptions {
  /** Accepted media types (lower case, no parameters). */
  types: readonly string[]
  /** Largest body accepted, bytes. */
  limit: number
  /** Deepest nesting accepted. */
  maxDepth: number
  /** Whether object members may be null (merge patches) or not (PUT). */
  allowNullMembers: boolean
}

/** The media type of a request, lower case, without parameters. */
export function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
}

/** Reads, checks and parses a JSON body; throws a {@link KeelsonError} on any refusal. */
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
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > options.limit) throw tooLarge(options.limit)
    chunks.push(chunk)
  }
  return parseJson(Buffer.concat(chunks, size).toString('utf8'), options)
}

function tooLarge(limit: number): KeelsonError {
  return new KeelsonError(Errors.TOO_LARGE, `The body is larger than ${limit} bytes`)
}
