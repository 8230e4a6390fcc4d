/** The end of a fault that lasts `duration` (pause-primary, pause-leader): one timer, cancelled by the drill's abort. */

/**
 * Resolves once `end` has run, `durationMs` after now, or at once when `signal` aborts (then
 * `end` is not run: teardown undoes the fault from the journal). `end` is called from the timer
 * itself; a promise it returns is waited for, and its rejection only ends the wait.
 */
export function endAfter(durationMs: number, signal: AbortSignal, end: () => void | Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      Promise.resolve(end()).then(
        () => resolve(),
        () => resolve(),
      );
    }, durationMs);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
