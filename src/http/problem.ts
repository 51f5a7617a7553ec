/**
 * RFC 9457 problem details: the one place HTTP errors are written.
 */
import type { ErrorRequestHandler, Response } from 'express'
import type { Logger } from 'pino'
import { Errors, KeelsonError } from '../core/errors.js'

/** Writes `error` as `application/problem+json`. */
export function sendProblem(
  res: Response,
  error: KeelsonError,
  extraHeaders?: Record<string, string>,
): void {
  const { kind } = error
  res
    .status(kind.status)
    .set({ 'Content-Type': 'application/problem+json', ...extraHeaders })
    .send(
      JSON.stringify({
        type: `https://keelson.dev/errors/${kind.code}`,
        title: kind.title,
        status: kind.status,
        detail: error.message,
        code: kind.code,
      }),
    )
}

/** The error middleware: table errors as they are, body-parser style errors mapped, the rest 500. */
export function problemHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (res.headersSent) {
      res.destroy()
      return
    }
    if (err instanceof KeelsonError) return sendProblem(res, err)
    log.error({ err, method: req.method, url: req.originalUrl }, 'unhandled error')
    sendProblem(res, new KeelsonError(Errors.INTERNAL))
  }
}
