/**
 * The live display (SPEC §10) and the browser client module: `GET /` is
 * src/web/index.html, `/display/*` its static scripts and styles (plain ES
 * modules and CSS, served as they are), `/client.js` the client library
 * bundled for browsers (src/web/client-bundle.ts).
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import express, { type Router } from 'express'
import { clientBundle } from './client-bundle.js'

/** The display's files, served with revalidation so a new version shows on reload. */
const NO_CACHE = 'no-cache'

/** The router of `/`, `/display/*` and `/client.js`. */
export function webRouter(): Router {
  const page = readFileSync(new URL('./index.html', import.meta.url), 'utf8')
  const router = express.Router()
  router.get('/', (_req, res) => {
    res.type('html').set('Cache-Control', NO_CACHE).send(page)
  })
  router.get('/client.js', (_req, res, next) => {
    clientBundle().then(
      (code) => res.type('text/javascript').set('Cache-Control', NO_CACHE).send(code),
      next,
    )
  })
  router.use(
    '/display',
    express.static(fileURLToPath(new URL('./display', import.meta.url)), {
      index: false,
      redirect: false,
      dotfiles: 'ignore',
      setHeaders: (res) => res.setHeader('Cache-Control', NO_CACHE),
    }),
  )
  return router
}
