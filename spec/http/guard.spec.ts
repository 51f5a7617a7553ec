import { createServer, request as httpRequest, type Server } from 'node:http'
import { type AddressInfo, connect } from 'node:net'
import { networkInterfaces } from 'node:os'
import { afterEach, describe, expect, it } from 'vitest'
import { type WritePolicy, writeRefusal } from '../../src/http/guard.js'

let server: Server | undefined

afterEach(async () => {
  server?.closeAllConnections()
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
  server = undefined
})

/** A real server that answers each request with writeRefusal's code, or `ok`. */
async function start(policy: WritePolicy, host = '127.0.0.1'): Promise<number> {
  server = createServer((req, res) => res.end(writeRefusal(req, policy)?.code ?? 'ok'))
  await new Promise<void>((resolve) => server!.listen(0, host, resolve))
  return (server.address() as AddressInfo).port
}

/** What writeRefusal says of a request with these headers (`Host` defaults to the address). */
function verdict(port: number, headers: Record<string, string>, address = '127.0.0.1') {
  return new Promise<string>((resolve, reject) => {
    const req = httpRequest({ host: address, port, path: '/', headers, agent: false }, (res) => {
      let body = ''
      res.on('data', (chunk) => {
        body += chunk
      })
      res.on('end', () => resolve(body.replace(/^KEELSON_ERR_/, '')))
    })
    req.on('error', reject)
    req.end()
  })
}

describe('writeRefusal with no users (SPEC §8)', () => {
  it('accepts a local client that sends no Origin', async () => {
    const port = await start({ corsOrigins: [] })
    expect(await verdict(port, {})).toBe('ok')
  })

  it('accepts every loopback origin of this server: its scheme, its port', async () => {
    const port = await start({ corsOrigins: [] })
    for (const origin of [
      `http://localhost:${port}`,
      `http://127.0.0.1:${port}`,
      `http://127.1.2.3:${port}`,
      `http://[::1]:${port}`,
    ]) {
      expect([origin, await verdict(port, { Origin: origin })]).toEqual([origin, 'ok'])
    }
  })

  it('refuses other origins: other ports, schemes and names, and anything not an origin', async () => {
    const port = await start({ corsOrigins: [] })
    for (const origin of [
      'http://evil.example',
      `http://evil.example:${port}`,
      `http://localhost:${port + 1}`,
      'http://localhost',
      `https://localhost:${port}`,
      `http://localhost.:${port}`,
      `http://app.localhost:${port}`,
      `http://127.0.0.1.evil.example:${port}`,
      `http://[::2]:${port}`,
      `http://localhost:${port}/`,
      `http://user@localhost:${port}`,
      `http://localhost:${port}, http://evil.example`,
      'null',
      '',
    ]) {
      expect([origin, await verdict(port, { Origin: origin })]).toEqual([origin, 'CORS_ORIGIN'])
    }
  })

  it('accepts an origin listed in corsOrigins', async () => {
    const port = await start({ corsOrigins: ['https://chart.example'] })
    expect(await verdict(port, { Origin: 'https://chart.example' })).toBe('ok')
  })

  it('accepts loopback Host names with or without a port', async () => {
    const port = await start({ corsOrigins: [] })
    for (const host of [
      'localhost',
      `localhost:${port}`,
      'LOCALHOST',
      '127.0.0.1',
      '127.9.8.7:80',
      '[::1]',
      `[::1]:${port}`,
      `[0:0:0:0:0:0:0:1]:${port}`,
    ]) {
      expect([host, await verdict(port, { Host: host })]).toEqual([host, 'ok'])
    }
  })

  it('refuses any other Host: a rebound name stays the name it was', async () => {
    const port = await start({ corsOrigins: [] })
    for (const host of [
      'evil.example',
      `evil.example:${port}`,
      'localhost.',
      'localhost.evil.example',
      '127.0.0.1.evil.example',
      '127.1',
      '[::2]',
      `localhost:${port}@evil.example`,
      'localhost/evil',
    ]) {
      expect([host, await verdict(port, { Host: host })]).toEqual([host, 'HOST_NOT_ALLOWED'])
    }
  })

  it('refuses a request that sends no Host at all', async () => {
    const port = await start({ corsOrigins: [] })
    const socket = connect(port, '127.0.0.1')
    let text = ''
    socket.on('data', (chunk) => {
      text += chunk
    })
    socket.write('GET / HTTP/1.0\r\n\r\n')
    await new Promise((resolve) => socket.on('close', resolve))
    expect(text).toMatch(/KEELSON_ERR_HOST_NOT_ALLOWED$/)
  })

  it('accepts a configured host name with any port, and a name:port only on that port', async () => {
    const port = await start({ corsOrigins: [], hostNames: ['boat.local', 'Chart.Lan:8080'] })
    expect(await verdict(port, { Host: 'boat.local' })).toBe('ok')
    expect(await verdict(port, { Host: `BOAT.local:${port}` })).toBe('ok')
    expect(await verdict(port, { Host: 'chart.lan:8080' })).toBe('ok')
    expect(await verdict(port, { Host: 'chart.lan:8081' })).toBe('HOST_NOT_ALLOWED')
    expect(await verdict(port, { Host: 'chart.lan' })).toBe('HOST_NOT_ALLOWED')
  })

  it('refuses a peer that is not on loopback', async () => {
    const lan = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal)
    if (!lan) return
    const port = await start({ corsOrigins: [] }, '0.0.0.0')
    expect(await verdict(port, { Host: 'localhost' }, lan.address)).toBe('WRITE_NOT_LOCAL')
  })
})
