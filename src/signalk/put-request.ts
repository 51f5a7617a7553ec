/**
 * Signal K PUT requests (SPEC §11, Signal K "Request/Response"): on the
 * WebSocket `{"requestId","context","put":{"path","value"}}`, over REST a
 * `PUT /signalk/v1/api/vessels/<id>/<path>` whose body is exactly
 * `{"value"}` (optionally `"source"`).
 *
 * signalk-server hands a PUT to the plugin that registered the path and
 * answers 405 when none did. keelson has no plugins: a permitted request
 * sets the path's value itself, as a Signal K delta under the requester's
 * `$source` with the time of the request, so every display watching the path
 * sees it (KIP's remote control between two screens works this way). A PUT
 * at `<path>.meta` or `<path>.meta.<name>` sets metadata instead, as
 * signalk-server's meta handler does.
 *
 * The delta goes through the write port's `submit`, so the reply waits for
 * what any answered write waits for: the journal's fsync, the cluster's log.
 * Every answer is a reply, never a thrown error: `{"requestId","state",
 * "statusCode"}`, and a `message` on every refusal (KIP shows it).
 *
 * Who may PUT: a writer (SPEC §8), and with ACLs the `put` permission of the
 * path, as signalk-server's `shouldAllowPut`; anyone else gets 403, as there.
 *
 * @see https://signalk.org/specification/1.7.0/doc/put.html
 * @see https://signalk.org/specification/1.7.0/doc/request_response.html
 */
import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import { Errors, KeelsonError } from '../core/errors.js'
import { isObject, type Json, type JsonObject } from '../core/json.js'
import { parseDotPath } from '../core/path.js'
import type { WritePort } from '../core/write-port.js'
import type { Principal } from '../security/principal.js'
import { contextKeys, type Delta, stampDelta, type Update } from './delta.js'
import type { RequestReply, Requests } from './requests.js'

/** One PUT request, parsed: tree keys, the value, and what the client sent besides. */
export interface PutInput {
  /** The client's `requestId`; one is made when it sent none. */
  readonly requestId?: Json
  /** The context's tree keys, `[group, id]` (the self vessel's key resolved). */
  readonly context: readonly string[]
  /** The path's tree keys below the context. */
  readonly path: readonly string[]
  /** The value to set; undefined is refused (400), null removes the value (SPEC §1). */
  readonly value: Json | undefined
  /** The `source` the client named, if any (it picks a handler in signalk-server; kept for nothing else). */
  readonly source?: Json
}

/** Members a REST body may have to be a PUT request rather than a subtree PUT (SPEC §11). */
const PUT_BODY_KEYS: ReadonlySet<string> = new Set(['value', 'source'])

/**
 * True when a REST `PUT` is a Signal K PUT request (SPEC §11): below a
 * vessel (`vessels/<id>/<path>`, at least one key of path) with a body of
 * exactly `{"value"}`, optionally with `"source"`. Any other PUT is the §3
 * subtree PUT.
 */
export function isPutRequest(keys: readonly string[], body: Json): boolean {
  if (keys.length < 3 || keys[0] !== 'vessels' || !isObject(body)) return false
  if (!Object.hasOwn(body, 'value')) return false
  for (const key in body) if (!PUT_BODY_KEYS.has(key)) return false
  return true
}

/** The PUT requests of one app: checks them, makes the writes, keeps their replies. */
export class PutRequests {
  constructor(
    private readonly port: WritePort,
    /** Where replies are kept for `GET /signalk/v1/requests/:id`. */
    readonly requests: Requests,
    private readonly log?: Logger,
  ) {}

  /**
   * The reply to a WebSocket message holding `put`: parses it and makes it
   * ({@link handle}). Never rejects: a malformed message gets a 400 reply.
   */
  fromMessage(message: JsonObject, who: Principal, sourceLabel: string): Promise<RequestReply> {
    const requestId = message.requestId ?? randomUUID()
    let input: PutInput
    try {
      input = this.parseMessage(message, requestId)
    } catch (err) {
      return Promise.resolve(this.requests.record(this.refusal(requestId, err)))
    }
    return this.handle(input, who, sourceLabel)
  }

  /**
   * Makes one PUT request for `who`, its value under `$source`
   * `sourceLabel`: the reply once the write is acknowledged, or the refusal.
   * Never rejects.
   */
  async handle(input: PutInput, who: Principal, sourceLabel: string): Promise<RequestReply> {
    return (await this.answer(input, who, sourceLabel)).reply
  }

  /** {@link handle}, with the refusal as the error it was (REST answers it as problem details too). */
  async answer(
    input: PutInput,
    who: Principal,
    sourceLabel: string,
  ): Promise<{ reply: RequestReply; error?: KeelsonError }> {
    const requestId = input.requestId ?? randomUUID()
    let reply: RequestReply
    let error: KeelsonError | undefined
    try {
      if (who.writeRefusal !== undefined) throw putRefusal(who.writeRefusal)
      const delta = this.deltaOf(input, sourceLabel)
      const keys = [...input.context, ...input.path]
      if (who.mayPut !== undefined && !who.mayPut(keys)) {
        throw new KeelsonError(Errors.FORBIDDEN, `You may not PUT ${dotted(input)}`)
      }
      // The port checks the delta as it checks every delta (keys, depth, values); the ACL was `put` above.
      await this.port.submit({ kind: 'delta', delta: stampDelta(delta) })
      reply = { requestId, state: 'COMPLETED', statusCode: 200 }
    } catch (err) {
      error = this.asError(err)
      reply = this.refusal(requestId, error)
    }
    return { reply: this.requests.record(reply), ...(error !== undefined && { error }) }
  }

  /** The delta of a request: the value at its path, or metadata at `<path>.meta[.<name>]`. */
  private deltaOf(input: PutInput, sourceLabel: string): Delta {
    const { path, value } = input
    if (path.length === 0) {
      throw new KeelsonError(Errors.BAD_PUT_REQUEST, 'A PUT request needs a path below its context')
    }
    if (value === undefined) {
      throw new KeelsonError(Errors.BAD_PUT_REQUEST, 'A PUT request needs a "value"')
    }
    if (input.source !== undefined && typeof input.source !== 'string') {
      throw new KeelsonError(Errors.BAD_PUT_REQUEST, 'The "source" of a PUT request is a string')
    }
    for (const key of path) {
      // A delta names its path with dots: a key holding one cannot be written by a delta.
      if (key.includes('.')) {
        throw new KeelsonError(
          Errors.BAD_PUT_REQUEST,
          `The key ${JSON.stringify(key)} holds a "."; a Signal K path cannot name it`,
        )
      }
    }
    const context = `${input.context[0]}.${input.context[1]}`
    const last = path.length - 1
    const update: Update = { $source: sourceLabel }
    if (path[last] === 'meta' && last > 0) {
      update.meta = [{ path: path.slice(0, last).join('.'), value: value as JsonObject }]
    } else if (path[last - 1] === 'meta' && last > 1) {
      const meta: JsonObject = { [path[last]!]: value }
      update.meta = [{ path: path.slice(0, last - 1).join('.'), value: meta }]
    } else {
      update.values = [{ path: path.join('.'), value }]
    }
    return { context, updates: [update] }
  }

  private parseMessage(message: JsonObject, requestId: Json): PutInput {
    const put = message.put
    if (!isObject(put) || typeof put.path !== 'string' || put.path === '') {
      throw new KeelsonError(
        Errors.BAD_PUT_REQUEST,
        '"put" must be an object {"path","value"} with a non-empty string "path"',
      )
    }
    const context = message.context ?? 'vessels.self'
    if (typeof context !== 'string') {
      throw new KeelsonError(Errors.BAD_PUT_REQUEST, 'The "context" of a PUT request is a string')
    }
    const tree = this.port.tree
    const path = parseDotPath(put.path, undefined, this.port.maxDepth)
    if (path.starAt >= 0) {
      throw new KeelsonError(Errors.BAD_PUT_REQUEST, 'A PUT request cannot address a "*" path')
    }
    return {
      requestId,
      context: contextKeys(context, tree.selfKey),
      path: path.segments,
      value: put.value,
      ...(put.source !== undefined && { source: put.source }),
    }
  }

  /** A refusal as a table error; anything else is logged and answered 500 without internals. */
  private asError(err: unknown): KeelsonError {
    if (err instanceof KeelsonError) return err
    this.log?.error({ err }, 'a PUT request failed')
    return new KeelsonError(Errors.INTERNAL)
  }

  /** The reply of a refused request: its status, and always a message. */
  private refusal(requestId: Json, err: unknown): RequestReply {
    const refused = this.asError(err)
    return {
      requestId,
      state: 'COMPLETED',
      statusCode: refused.status,
      message: refused.message,
      code: refused.code,
    }
  }
}

/**
 * The refusal of a PUT by a caller who may not write: 403, also for an
 * anonymous one, as signalk-server's `shouldAllowPut` answers and apps
 * expect (KIP reads 401 as a failed login, 403 as "sign in to send commands").
 */
function putRefusal(refusal: KeelsonError): KeelsonError {
  if (refusal.kind !== Errors.UNAUTHORIZED) return refusal
  return new KeelsonError(
    Errors.FORBIDDEN,
    `${refusal.message}: a PUT request needs a user who may write`,
  )
}

/** The dot path of a request, for messages. */
function dotted(input: PutInput): string {
  return [...input.context, ...input.path].join('.')
}
