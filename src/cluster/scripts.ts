/**
 * The Lua scripts of the cluster (each runs atomically in Redis). Every one
 * checks the cluster's epoch first: a node that still follows a log Redis
 * lost (restarted empty, then seeded by another node) can neither append to
 * the new log nor overwrite its snapshot.
 *
 * Keys: KEYS[1] the state hash (`epoch`, the snapshot `root` with its `rev`
 * and the stream `id` it covers, `at` when it was written, `floor` below
 * which the stream may be trimmed), KEYS[2] the stream.
 */

/** `after(a, b)`: stream id `a` is after `b` (ids parsed as numbers: ms fit a double exactly). */
const AFTER = `
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)%-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function after(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am > bm or (am == bm and as > bs)
end
`

/** ARGV: epoch, operation JSON, origin tag. Returns the entry id, or an EPOCH error (not appended). */
export const APPEND = `
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then
  return redis.error_reply('EPOCH the cluster log is not the one this node follows')
end
return redis.call('XADD', KEYS[2], '*', 'op', ARGV[2], 'from', ARGV[3])
`

/**
 * ARGV: epoch, rev, root JSON, now (ms). Creates the cluster's state when
 * Redis holds none (first node, or Redis back empty) and empties the
 * stream. Returns 1 when this call seeded it, 0 when it existed.
 */
export const SEED = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'rev', ARGV[2], 'root', ARGV[3], 'id', '0-0', 'floor', '0-0', 'at', ARGV[4])
return 1
`

/** ARGV: epoch, id, rev, root JSON, now (ms). Stores a snapshot newer than the one held; 1 when stored. */
export const SNAPSHOT = `${AFTER}
local held = redis.call('HMGET', KEYS[1], 'epoch', 'id')
if held[1] ~= ARGV[1] then return 0 end
if held[2] and not after(ARGV[2], held[2]) then return 0 end
redis.call('HSET', KEYS[1], 'id', ARGV[2], 'rev', ARGV[3], 'root', ARGV[4], 'at', ARGV[5])
return 1
`

/**
 * ARGV: epoch, min id. Trims the stream (exactly: once per snapshot period,
 * so the cost is the entries removed) to entries from that id on, never
 * past the snapshot held (a new node reads the stream after it), and
 * records the floor: a node whose last entry is below it reloads the
 * snapshot instead of reading a gap. Returns the floor set, or false.
 */
export const TRIM = `${AFTER}
local held = redis.call('HMGET', KEYS[1], 'epoch', 'id', 'floor')
if held[1] ~= ARGV[1] or not held[2] then return false end
local floor = ARGV[2]
if after(floor, held[2]) then floor = held[2] end
if held[3] and not after(floor, held[3]) then return false end
redis.call('XTRIM', KEYS[2], 'MINID', floor)
redis.call('HSET', KEYS[1], 'floor', floor)
return floor
`
