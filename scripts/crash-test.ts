/**
 * `npm run crash-test [-- --kills N]`: the kill -9 loop of SPEC §9 at full
 * length (200 kills; `npm test` runs 20 of them in spec/journal/crash.spec.ts).
 * keelson runs with `--data-dir` in sync mode while writers send PATCHes and
 * an SSE client follows; after every SIGKILL and restart, every acknowledged
 * write must be there, the revision must not go back, and the stream must
 * resume exactly. Prints a line per 10 rounds; exits 1 on the first failure.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { compileCli } from '../spec/journal/cli-process.js'
import { crashLoop } from '../spec/journal/crash-loop.js'

const { values } = parseArgs({ options: { kills: { type: 'string', default: '200' } } })
const kills = Number(values.kills)
const compiled = await compileCli()
const dir = mkdtempSync(join(tmpdir(), 'keelson-crash-'))
const started = Date.now()
try {
  const stats = await crashLoop({
    cli: compiled.cli,
    dir,
    kills,
    onRound: (round, s) => {
      if (round % 10 === 0) {
        console.log(
          `round ${round}/${kills}: revision ${s.lastRev}, ${s.acknowledged} writes acknowledged, ${s.cutOff} cut off by a kill (${Math.round((Date.now() - started) / 1000)} s)`,
        )
      }
    },
  })
  const starts = [...stats.startMs].sort((a, b) => a - b)
  console.log(
    `ok: ${kills} kills, ${stats.acknowledged} acknowledged writes all kept, revision ${stats.lastRev}, ` +
      `${stats.resumes} exact resumes; start to listening median ${starts[starts.length >> 1]} ms, ` +
      `max ${starts.at(-1)} ms (${Math.round((Date.now() - started) / 1000)} s)`,
  )
} catch (err) {
  console.error(`FAILED: ${(err as Error).message}`)
  process.exitCode = 1
} finally {
  compiled.remove()
  rmSync(dir, { recursive: true, force: true })
}
