/**
 * What the command-line programs share: their run folders' time stamps, how
 * they print an accuracy, the signals that stop them, output that may close
 * under them, and the last word on an unexpected error. Each program is a
 * `main` over library calls.
 */

/** The signals that stop a program politely (a second one quits), with their numbers for the exit code 128 + n. */
export const STOP_SIGNALS = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const;
export type StopSignal = keyof typeof STOP_SIGNALS;

/** Calls `handler` with the name of each stop signal received. */
export function onStopSignals(handler: (signal: StopSignal) => void): void {
  for (const signal of Object.keys(STOP_SIGNALS) as StopSignal[]) process.on(signal, handler);
}

/** Exits as a process killed by `signal` would report itself: 128 + its number. */
export function exitForSignal(signal: StopSignal): never {
  process.exit(128 + STOP_SIGNALS[signal]);
}

/**
 * Stops politely: the first stop signal is recorded (read it with the
 * function returned) and `announce`d, so that the work can end where it may;
 * a second one quits at once.
 */
export function stopOnFirstSignal(announce: (signal: StopSignal) => void): () => StopSignal | undefined {
  let received: StopSignal | undefined;
  onStopSignals((signal) => {
    if (received) exitForSignal(signal);
    received = signal;
    announce(signal);
  });
  return () => received;
}

/** `2026-12-03T17-48-00`: now, as a folder name (no colons). */
export function timestamp(): string {
  return new Date().toISOString().replace(/\..*$/, '').replace(/:/g, '-');
}

/** `0.9123` as `91.23%`: an accuracy as the programs print it. */
export function percent(fraction: number): string {
  return `${(100 * fraction).toFixed(2)}%`;
}

/**
 * Output that nobody reads any more (`| head -1`, a closed terminal) must not
 * stop the work: write errors on stdout and stderr are dropped.
 */
export function ignoreClosedOutput(): void {
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
}

/** Runs `main` with the process's arguments; an unexpected error prints its stack and exits 1. */
export function runMain(main: (argv: string[]) => Promise<void>): void {
  main(process.argv).catch((err: unknown) => {
    console.error(err instanceof Error ? err.stack ?? err.message : String(err));
    process.exit(1);
  });
}
