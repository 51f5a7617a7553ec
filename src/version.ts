import { createRequire } from 'node:module'

/** keelson's own version, from package.json. */
export const VERSION: string = (
  createRequire(import.meta.url)('../package.json') as { version: string }
).version

/**
 * The signalk-server version whose APIs keelson answers as (SPEC §11), sent
 * as the hello's `version` and discovery's `server.version`: apps gate
 * features on it (KIP: login and configuration sharing need 1.46.2 or
 * later, application data 1.27.0), and signalk-server sends its own version
 * there. It matches the Signal K schema's version pattern, so the hello
 * still validates. keelson's own version is {@link VERSION}.
 */
export const SIGNALK_SERVER_VERSION = '2.32.0'
