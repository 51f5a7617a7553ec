/**
 * The one table of error codes. Every refusal keelson makes, on any
 * transport, is one of these: a stable code, an HTTP status and a message
 * that tells the caller how to fix the request. HTTP turns them into
 * `application/problem+json` (RFC 9457); WebSocket transports into error messages.
 */

/** One entry of the table. */
export interface ErrorKind {
  readonly code: string
  readonly status: number
  readonly title: string
}

function kind(code: string, status: number, title: string): ErrorKind {
  return Object.freeze({ code: `KEELSON_ERR_${code}`, status, title })
}

/** Every error keelson answers with, by name. */
export const Errors = Object.freeze({
  PATH_NOT_FOUND: kind('PATH_NOT_FOUND', 404, 'Nothing is stored at this path'),
  BAD_PATH: kind(
    'BAD_PATH',
    400,
    'The path is malformed: use one key per segment, no empty, "." or ".." segments and no control characters',
  ),
  FORBIDDEN_KEY: kind(
    'FORBIDDEN_KEY',
    400,
    'The keys "__proto__", "constructor" and "prototype" are not allowed anywhere',
  ),
  BAD_JSON: kind('BAD_JSON', 400, 'The body is not valid JSON (UTF-8 text, RFC 8259)'),
  NOT_FINITE: kind(
    'NOT_FINITE',
    400,
    'Numbers must be finite: Infinity, NaN and out-of-range literals such as 1e999 are refused',
  ),
  TOO_DEEP: kind(
    'TOO_DEEP',
    400,
    "The write reaches deeper than the configured limit: path segments plus the body's nesting, counted from the root of the tree",
  ),
  NULL_NOT_ALLOWED: kind(
    'NULL_NOT_ALLOWED',
    400,
    'The tree never holds null: use PATCH with null to delete a member, or DELETE the path',
  ),
  WILDCARD_WRITE: kind('WILDCARD_WRITE', 400, 'A write cannot address a "*" path; name the keys'),
  ROOT_NOT_OBJECT: kind('ROOT_NOT_OBJECT', 400, 'The root of the tree must stay a JSON object'),
  BAD_QUERY: kind('BAD_QUERY', 400, 'A query parameter has an invalid value'),
  BAD_DELTA: kind(
    'BAD_DELTA',
    400,
    'The Signal K delta is malformed: send {"context","updates":[{"values":[{"path","value"}]}]}',
  ),
  BAD_MESSAGE: kind(
    'BAD_MESSAGE',
    400,
    'The WebSocket message is not understood: send a delta, a subscribe or an unsubscribe message',
  ),
  BAD_EVENT_ID: kind('BAD_EVENT_ID', 400, 'The event id is not one this server issued'),
  BAD_REQUEST: kind(
    'BAD_REQUEST',
    400,
    'The HTTP request is malformed: check the method, the headers and the framing of the body',
  ),
  TOO_MANY_SUBSCRIPTIONS: kind(
    'TOO_MANY_SUBSCRIPTIONS',
    429,
    'This connection holds as many subscriptions as allowed; unsubscribe some first',
  ),
  UNAUTHORIZED: kind('UNAUTHORIZED', 401, 'Log in first: this needs a valid token'),
  FORBIDDEN: kind('FORBIDDEN', 403, 'You are not allowed to do this'),
  LOGIN_FAILED: kind(
    'LOGIN_FAILED',
    401,
    'Invalid username or password; check both and log in again',
  ),
  BAD_USER: kind(
    'BAD_USER',
    400,
    'The user is refused: a name of 1 to 64 letters, digits and . _ @ + - (not "any"), a type of readonly, readwrite or admin, and a non-empty password',
  ),
  USER_EXISTS: kind(
    'USER_EXISTS',
    409,
    'A user or device of this name exists; remove it first or pick another name',
  ),
  USER_NOT_FOUND: kind('USER_NOT_FOUND', 404, 'No user of this name exists'),
  BAD_ACCESS_REQUEST: kind(
    'BAD_ACCESS_REQUEST',
    400,
    'The access request is malformed: send {"clientId","description","permissions"?} with a clientId of 1 to 128 characters',
  ),
  ACCESS_REQUEST_PENDING: kind(
    'ACCESS_REQUEST_PENDING',
    409,
    'A device with this clientId has already requested access; poll that request until an admin answers it',
  ),
  ACCESS_REQUEST_NOT_FOUND: kind(
    'ACCESS_REQUEST_NOT_FOUND',
    404,
    'No access request with this id is known (it may have expired); the device asks again',
  ),
  WRITE_NOT_LOCAL: kind(
    'WRITE_NOT_LOCAL',
    403,
    'With no users configured, writes are accepted only from this machine (loopback)',
  ),
  HOST_NOT_ALLOWED: kind(
    'HOST_NOT_ALLOWED',
    403,
    'With no users configured, writes need a loopback Host header (or a configured host name)',
  ),
  CORS_ORIGIN: kind(
    'CORS_ORIGIN',
    403,
    'Writes from this origin are not allowed; list it with --cors-origin',
  ),
  METHOD_NOT_ALLOWED: kind('METHOD_NOT_ALLOWED', 405, 'This method is not supported here'),
  TOO_LARGE: kind('TOO_LARGE', 413, 'The body is larger than the configured limit'),
  UNSUPPORTED_MEDIA_TYPE: kind(
    'UNSUPPORTED_MEDIA_TYPE',
    415,
    'Send the body as application/json (or application/merge-patch+json for PATCH)',
  ),
  HEADERS_TOO_LARGE: kind(
    'HEADERS_TOO_LARGE',
    431,
    'The request headers are larger than the server accepts; send fewer or shorter headers',
  ),
  TOO_MANY_CONNECTIONS: kind('TOO_MANY_CONNECTIONS', 429, 'Too many connections; retry later'),
  TOO_MANY_ATTEMPTS: kind(
    'TOO_MANY_ATTEMPTS',
    429,
    'Too many login or access-request attempts from this address; retry after the time given',
  ),
  BAD_UNIT_TOKEN: kind(
    'BAD_UNIT_TOKEN',
    401,
    'The unit token is missing, forged, expired or not signed with HS256; get a new one from GET /api/v1/monitoring/unit/:unitId',
  ),
  UNIT_NOT_FOUND: kind(
    'UNIT_NOT_FOUND',
    404,
    'No unit of this id is known: a unit id is a vessel MMSI or an id of the fleet file (--fleet)',
  ),
  VEHICLE_NOT_FOUND: kind(
    'VEHICLE_NOT_FOUND',
    404,
    'No vehicle of this id is in the fleet file (--fleet)',
  ),
  STREAM_NOT_FOUND: kind(
    'STREAM_NOT_FOUND',
    404,
    'No telemetry stream of this id is open: connect to /sse/telemetry/connect and use the stream_id it sends',
  ),
  BAD_TIME: kind(
    'BAD_TIME',
    400,
    'The time is not valid: give an ISO 8601 time with a zone, such as 2026-12-02T10:00:00Z, and not in the future',
  ),
  NOT_RETAINED: kind(
    'NOT_RETAINED',
    404,
    'Nothing is retained that far back (--retention, default 7 days); ask for a later time',
  ),
  NO_HISTORY: kind(
    'NO_HISTORY',
    501,
    'Time travel needs a journal: start keelson with --data-dir DIR',
  ),
  RESOURCE_TYPE_NOT_FOUND: kind(
    'RESOURCE_TYPE_NOT_FOUND',
    404,
    'No resource type of this name is served: use routes, waypoints, notes, regions, charts or register a custom type with POST /plugins/resources-provider/_config/<type>',
  ),
  RESOURCE_NOT_FOUND: kind('RESOURCE_NOT_FOUND', 404, 'No resource of this id is stored'),
  BAD_RESOURCE: kind(
    'BAD_RESOURCE',
    400,
    "The resource does not match its Signal K schema: a waypoint's feature has a Point geometry, a route's a LineString of 2 points or more, a region's a Polygon or MultiPolygon, [longitude, latitude] in degrees",
  ),
  BAD_RESOURCE_ID: kind(
    'BAD_RESOURCE_ID',
    400,
    'The resource id is not valid: a UUID v4 for routes, waypoints, notes and regions, 8 to 128 of A-Z a-z 0-9 _ - for charts, 1 to 128 of them for custom types',
  ),
  BAD_RESOURCE_TYPE: kind(
    'BAD_RESOURCE_TYPE',
    400,
    'A custom resource type name is 1 to 64 letters, digits, "_" or "-", starting with a letter, and not a standard type',
  ),
  RESOURCE_TYPE_EXISTS: kind(
    'RESOURCE_TYPE_EXISTS',
    409,
    'A resource type of this name (in any letter case) already exists',
  ),
  RESOURCES_FULL: kind(
    'RESOURCES_FULL',
    507,
    'The resource store holds as much as allowed (resources per type, total bytes or custom types); delete some first',
  ),
  BAD_PUT_REQUEST: kind(
    'BAD_PUT_REQUEST',
    400,
    'The PUT request is malformed: send {"requestId","context","put":{"path","value"}} on the WebSocket, or a body of exactly {"value"} (optionally "source") to PUT /signalk/v1/api/vessels/<id>/<path>',
  ),
  BAD_JSON_PATCH: kind(
    'BAD_JSON_PATCH',
    400,
    'The JSON Patch (RFC 6902) is malformed or cannot apply: send an array of {"op","path","value"|"from"} whose paths exist; nothing was applied',
  ),
  PATCH_TEST_FAILED: kind(
    'PATCH_TEST_FAILED',
    409,
    'A "test" operation of the JSON Patch failed: the data changed; read it again. Nothing was applied',
  ),
  BAD_APP_DATA_NAME: kind(
    'BAD_APP_DATA_NAME',
    400,
    'Application data lives at /signalk/v1/applicationData/global|user/<appid>/<version>: an appid of up to 29 letters, digits and ._@+- and a version such as 1.0.0',
  ),
  APP_DATA_FULL: kind(
    'APP_DATA_FULL',
    413,
    'Application data is full: its documents together are bounded (maxAppDataBytes, maxAppDataDocuments) and each by the body limit; store less',
  ),
  REQUEST_NOT_FOUND: kind(
    'REQUEST_NOT_FOUND',
    404,
    'No request of this id is known: it was never made here, or it is older than an hour',
  ),
  BAD_COURSE: kind(
    'BAD_COURSE',
    400,
    'The course request is refused: a destination is {"position":{"latitude","longitude"}} or {"href":"/resources/waypoints/<id>"}, a route {"href":"/resources/routes/<id>","pointIndex"?,"reverse"?}, an arrival circle {"value"} in metres',
  ),
  COURSE_NOT_ACTIVE: kind(
    'COURSE_NOT_ACTIVE',
    400,
    'No destination or route is active: set one with PUT .../navigation/course/destination or .../activeRoute first',
  ),
  COURSE_NO_POSITION: kind(
    'COURSE_NO_POSITION',
    400,
    "The vessel's position (navigation.position) is unknown: a course starts from it",
  ),
  COURSE_HREF_NOT_FOUND: kind(
    'COURSE_HREF_NOT_FOUND',
    404,
    'The href names no stored waypoint or route: create it with the v2 resources API first',
  ),
  NOT_FOUND: kind('NOT_FOUND', 404, 'No such endpoint'),
  INTERNAL: kind('INTERNAL', 500, 'Internal server error'),
  UNAVAILABLE: kind('UNAVAILABLE', 503, 'The server cannot take writes right now; retry later'),
  APPEND_UNKNOWN: kind(
    'APPEND_UNKNOWN',
    504,
    'The cluster log (Redis) did not confirm this write: it may or may not be applied; read before retrying',
  ),
})

/** An error from the table, with a detail for this occurrence. */
export class KeelsonError extends Error {
  readonly kind: ErrorKind

  /** Seconds after which the caller may retry (a 429 or 503 sends it as `Retry-After`). */
  readonly retryAfterS: number | undefined

  constructor(kind: ErrorKind, detail?: string, retryAfterS?: number) {
    super(detail ?? kind.title)
    this.name = 'KeelsonError'
    this.kind = kind
    this.retryAfterS = retryAfterS
  }

  get code(): string {
    return this.kind.code
  }

  get status(): number {
    return this.kind.status
  }
}
