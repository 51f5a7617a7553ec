/**
 * keelson's client library (`import { subscribe } from 'keelson/client'`,
 * served to browsers at `/client.js`): snapshot + RFC 7396 fold + resume
 * over keelson's SSE streams, for Node 20 (fetch) and browsers
 * (`EventSource`). No dependencies, no Node built-ins.
 */
export { BACKOFF_DEFAULTS, type BackoffOptions, backoffDelay } from './backoff.js'
export { applyMergePatch, isRecord, type JsonRecord, type MergePatch } from './merge-patch.js'
export { type SseMessage, SseParser } from './sse-parser.js'
export {
  DEFAULT_IDLE_TIMEOUT_MS,
  type EventInfo,
  type Status,
  type StatusInfo,
  type SubscribeOptions,
  type Subscription,
  subscribe,
} from './subscribe.js'
export { StreamRefusedError } from './transport.js'
