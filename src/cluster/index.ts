/**
 * Starting a cluster node (SPEC §9): connect to Redis, build the app from
 * the cluster's epoch and snapshot, catch up with the log; the caller
 * listens once this resolves.
 */
import { createApp, type Keelson } from '../app.js'
import { DEFAULTS, type KeelsonOptions } from '../options.js'
import { Cluster } from './cluster.js'
import { Lease } from './lease.js'

export { Cluster, type ClusterOptions, type ClusterState, type ClusterStats } from './cluster.js'

/** A built keelson app following the cluster's log, caught up, ready to listen. */
export interface ClusterNode {
  readonly keelson: Keelson
  readonly cluster: Cluster
}

/** Connects to `url`, builds the app (createApp with `options`) from the cluster's state and catches up. */
export async function startClusterNode(
  url: string,
  options: Partial<KeelsonOptions> = {},
): Promise<ClusterNode> {
  const cluster = await Cluster.open({
    url,
    key: options.clusterKey,
    snapshotMs: options.clusterSnapshotMs,
    historySize: options.historySize ?? DEFAULTS.historySize,
    log: options.logger,
  })
  // One node at a time calculates the course values; the course closes it with the app.
  const courseLease = new Lease({
    url,
    key: `${options.clusterKey ?? DEFAULTS.clusterKey}:course-lease`,
    holder: cluster.nodeId,
    log: options.logger,
  })
  let keelson: Keelson
  try {
    // A client moving from a node ahead of this one waits for its id here (SPEC §9).
    keelson = createApp(
      { resumeWaitMs: DEFAULTS.clusterResumeWaitMs, ...options, ...cluster.startOptions },
      { courseLease },
    )
  } catch (err) {
    await courseLease.close()
    await cluster.close()
    throw err
  }
  try {
    await cluster.attach(keelson)
    // Asked for once caught up: the values are calculated from the cluster's present.
    courseLease.start()
  } catch (err) {
    keelson.close()
    await cluster.close()
    throw err
  }
  return { keelson, cluster }
}
