/**
 * RFC 9457 problem details: the one place HTTP errors are written, for the
 * express routes, the read fast path and the raw socket answers of
 * src/http/server-hooks.ts alike.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9457
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ErrorRequestHandler } from 'express'
import type { Logger } from 'pino'
import { Errors, KeelsonError } from '../core/errors.js'

/** The `Content-Type` of every error answer (RFC 9457 §3). */
export const PROBLEM_TYPE = 'application/problem+json; charset=utf-8'

/** An error answer: its status and its `application/problem+json` text. */
export interface Problem {
  readonly status: number
  readonly body: string
}

/**
 * The problem details of `error`:
 * `{"type","title","status","detail","code","message"}` (RFC 9457 §3.1).
 * `code` and `message` are extension members: `code` the table's stable
 * code, `message` the detail again, where Signal K apps read an error's
 * reason (signalk-server answers `{"statusCode","message"}`: Freeboard-SK's
 * alerts and KIP's toasts show `message`, and are blank without it).
 */
export function problemOf(error: KeelsonError): Problem {
  const { kind } = error
  const body = JSON.stringify({
    type: `https://keelson.dev/errors/${kind.code}`,
    title: kind.title,
    status: kind.status,
    detail: error.message,
    code: kind.code,
    message: error.message,
  })
  return { status: kind.status, body }
}

/**
 * Writes `error` as `application/problem+json` on a plain node response (no
 * body for HEAD). A 413 also closes the connection (`Connection: close`):
 * the rest of the refused body was never read, so the connection cannot
 * carry another request, and reading it all only to discard it would let a
 * client make the server read without bound.
 */
export function sendProblem(res: ServerResponse, error: KeelsonError): void {
  const { status, body } = problemOf(error)
  res.statusCode = status
  res.setHeader('Content-Type', PROBLEM_TYPE)
  res.setHeader('Content-Length', Buffer.byteLength(body))
  // node ends the socket once this answer is out when it carries `Connection: close`.
  if (error.kind === Errors.TOO_LARGE) res.setHeader('Connection', 'close')
  if (error.retryAfterS !== undefined)
    res.setHeader('Retry-After', String(Math.max(1, Math.ceil(error.retryAfterS))))
  // node drops the body of a HEAD answer itself and keeps its Content-Length.
  res.end(body)
}

/**
 * Answers `err`: a table error as it is; anything else is logged and
 * answered 500 without internals. A response already under way is cut.
 */
export function answerError(
  err: unknown,
  req: IncomingMessage,
  res: ServerResponse,
  log: Logger,
): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  if (err instanceof KeelsonError) {
    sendProblem(res, err)
    return
  }
  const url = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url
  log.error({ err, method: req.method, url }, 'unhandled error')
  sendProblem(res, new KeelsonError(Errors.INTERNAL))
}

/** The express error middleware: {@link answerError}. */
export function problemHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => answerError(err, req, res, log)
}
