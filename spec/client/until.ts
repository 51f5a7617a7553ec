/** Polls `predicate` every 10 ms until it holds; rejects with `describe()` after `ms`. */
export async function until(
  predicate: () => boolean | Promise<boolean>,
  ms = 3000,
  describe: () => string = () => '',
): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms ${describe()}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
