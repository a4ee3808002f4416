/**
 * How every service process runs, wherever it runs: the launcher puts this in each child's
 * environment, the Dockerfile's runtime stage sets the same ENV (test/ops/dockerfile.test.ts holds
 * them equal), and compose and Kubernetes inherit it from the image. README, Performance, has the
 * figures each setting was chosen by.
 */
export const SERVICE_RUNTIME_ENV: Readonly<Record<string, string>> = {
  // V8's young generation grows to 2 × 16 MB under a burst and stays there. Capped at 2 MB it stays
  // small; at 1 MB every call paid for twice the scavenges (guesser 0.46 → 0.39 ms of CPU per call
  // at 2 MB; 4 MB saved nothing more and left the secretary at 1.27× idle after a burst).
  // --expose-gc: a service collects its heap once after start-up or a burst, when it has been quiet
  // a few seconds (http-kit's IdleHeapSettler); V8's own memory reducer does so only sometimes.
  NODE_OPTIONS: '--max-semi-space-size=2 --expose-gc',
  // glibc gives every thread that allocates its own arena; V8's helper threads and libuv's pool
  // then keep freed memory in several of them after a burst.
  MALLOC_ARENA_MAX: '2',
  // glibc raises its mmap and trim thresholds (up to 32/64 MB) after the first large block is freed,
  // so start-up's transient buffers then stay in the brk heap for good. Fixed, freed memory goes back
  // to the system. At 64 KB (the size Node allocates for every socket read before shrinking it to
  // what arrived) a burst no longer left each kept remainder pinning a 64 KB hole (the analyst
  // settled at 1.11–1.29× idle instead of up to 1.55×). At 32 KB, V8's compiler zones (segments of up
  // to 32 KB) are mapped too: compiling the bundle at start-up had left 4–16 MB of freed segments in
  // the brk heap below live blocks, by chance of order, so the secretary idled anywhere from 67 to
  // 83 MB; at 32 KB it idles at 67–69 MB (communicator 65, console 66) in seven of seven starts, and
  // the CPU per answer did not move (1.17× the baseline against 1.21–1.25× in the runs before).
  MALLOC_MMAP_THRESHOLD_: '32768',
  MALLOC_TRIM_THRESHOLD_: '131072',
};

/**
 * Node arguments every service runs with, before its entry file (the launcher's spawn and the
 * Dockerfile's CMD; a test keeps the two equal). --single-threaded-gc: V8 collects on the main
 * thread only, without helper threads; on a busy machine the helpers only add CPU (synchronisation,
 * work split across threads), and a service's heap is small enough for one thread: 9 % less CPU
 * per request for the guesser under load in an A/B. NODE_OPTIONS does not accept this flag.
 */
export const SERVICE_NODE_ARGS: readonly string[] = ['--single-threaded-gc'];

/** The runtime settings under the caller's environment: what an operator sets wins. */
export function withServiceRuntime(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const merged: NodeJS.ProcessEnv = { ...SERVICE_RUNTIME_ENV, ...env };
  const ours = SERVICE_RUNTIME_ENV.NODE_OPTIONS;
  // NODE_OPTIONS adds up: ours first, so a flag the operator repeats takes effect.
  if (ours && env.NODE_OPTIONS) merged.NODE_OPTIONS = `${ours} ${env.NODE_OPTIONS}`;
  return merged;
}
