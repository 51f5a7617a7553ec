/**
 * RFC 9457 problem details: the one place HTTP errors are written, for the
 * express routes and the read fast path alike.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9457
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ErrorRequestHandler } from 'express'
import type { Logger } from 'pino'
import { Errors, KeelsonError } from '../core/errors.js'

const PROBLEM_TYPE = 'application/problem+json; charset=utf-8'

/** Writes `error` as `application/problem+json` on a plain node response (no body for HEAD). */
export function sendProblem(res: ServerResponse, error: KeelsonError): void {
  const { kind } = error
  const body = JSON.stringify({
    type: `https://keelson.dev/errors/${kind.code}`,
    title: kind.title,
    status: kind.status,
    detail: error.message,
    code: kind.code,
  })
  res.statusCode = kind.status
  res.setHeader('Content-Type', PROBLEM_TYPE)
  res.setHeader('Content-Length', Buffer.byteLength(body))
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
