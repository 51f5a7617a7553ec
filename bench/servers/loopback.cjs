// Preloaded into signalk-server (`node -r`): every TCP listener binds 127.0.0.1
// instead of all interfaces, so the bench stays on loopback.
const net = require('node:net')
const listen = net.Server.prototype.listen
const HOST = '127.0.0.1'

net.Server.prototype.listen = function (...args) {
  const first = args[0]
  if (first !== null && typeof first === 'object' && !first._handle && first.fd === undefined) {
    if (first.path === undefined) args[0] = { ...first, host: HOST }
  } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    if (typeof args[1] === 'string') args[1] = HOST
    else args.splice(1, 0, HOST)
  } else if (first === undefined || typeof first === 'function') {
    args.unshift(0, HOST)
  }
  return listen.apply(this, args)
}

// The bench asks for a full GC before reading memory (scenario d), the same in every server.
if (typeof global.gc === 'function') process.on('SIGUSR2', () => global.gc())

// When the bench goes away (its IPC channel closes), so does the peer: no orphan servers.
process.on('disconnect', () => process.exit(0))
