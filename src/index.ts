/**
 * keelson's public API. `createApp` builds a server without listening; the
 * rest is the core a transport, an ingest or an embedding program builds on.
 */
export { createApp, type Keelson } from './app.js'
export { type ErrorKind, Errors, KeelsonError } from './core/errors.js'
export { formatEventId, parseEventId } from './core/event-id.js'
export { Hub, ScopedUpdate, type Subscriber, type Subscription } from './core/hub.js'
export type { Json, JsonObject } from './core/json.js'
export { applyPatch, compose, composeEffects, type Effect } from './core/merge-patch.js'
export { parseDotPath, parseUrlPath, pathOf, readPath, type TreePath } from './core/path.js'
export { scopeEffect } from './core/scope.js'
export { type Change, StateTree, type StateTreeOptions } from './core/state-tree.js'
export { DEFAULTS, type KeelsonOptions } from './options.js'
export { parseHref, type ResourceRef, ResourceStore } from './resources/store.js'
export { applyDelta, type Delta } from './signalk/delta.js'
export { VERSION } from './version.js'
