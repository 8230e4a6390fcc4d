/**
 * What a person sees while a drill runs: on a TTY one live status line (phase, elapsed, last
 * probe) above the scrolling events; elsewhere (CI, pipes) plain timestamped lines.
 */
import type { ProgressListener } from '../runners/context.js';
import type { Phase, ProbeAttempt, TimelineEvent } from '../reports/run-record.js';

export function progressListener(stream: NodeJS.WriteStream, options: { verbose?: boolean; plain?: boolean } = {}): ProgressListener & { stop(): void } {
  // A live exercise owns the terminal (its prompts are the progress): stay out of the way.
  if (options.plain) return { stop() {} };
  const tty = Boolean(stream.isTTY) && process.env.CI !== 'true';
  const started = Date.now();
  let phase: Phase | 'starting' = 'starting';
  let lastProbe: ProbeAttempt | undefined;
  let okStreak = 0;
  let timer: NodeJS.Timeout | undefined;

  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
  const statusLine = () => {
    const probe = lastProbe
      ? `${lastProbe.probe} ${lastProbe.ok ? `ok ${Math.round(lastProbe.latencyMs)}ms ×${okStreak}` : `FAIL ${truncate(lastProbe.error ?? '', 50)}`}`
      : 'no probe yet';
    return `⏱ ${elapsed().padStart(7)}  phase: ${phase.padEnd(12)}  probe: ${probe}`;
  };
  const draw = () => void (stream.destroyed || stream.write(`\r\x1b[2K${statusLine()}`));
  const print = (line: string) => {
    // A reader that went away (EPIPE) is the CLI's to handle (it rolls the drill back).
    if (stream.destroyed) return;
    if (tty) stream.write(`\r\x1b[2K${line}\n`);
    else stream.write(`${line}\n`);
    if (tty) draw();
  };
  if (tty) {
    timer = setInterval(draw, 200);
    timer.unref();
  }

  return {
    phase(next) {
      phase = next;
    },
    event(event: TimelineEvent) {
      if (event.event.startsWith('phase: ')) {
        print(`[${elapsed()}] ── ${event.event.slice(7)} ──`);
        return;
      }
      print(`[${elapsed()}] ${event.event}`);
    },
    probe(attempt) {
      okStreak = attempt.ok ? okStreak + 1 : 0;
      const changed = !lastProbe || lastProbe.ok !== attempt.ok || lastProbe.probe !== attempt.probe;
      lastProbe = attempt;
      // Plain output gets probe state changes only: every attempt would flood a CI log.
      if (!tty && (changed || options.verbose)) print(`[${elapsed()}] probe ${attempt.probe}: ${attempt.ok ? 'ok' : `failing (${truncate(attempt.error ?? '', 80)})`}`);
    },
    log(message) {
      if (options.verbose) print(`[${elapsed()}] ${message}`);
    },
    stop() {
      if (timer) clearInterval(timer);
      if (tty && !stream.destroyed) stream.write('\r\x1b[2K');
    },
  };
}

function truncate(text: string, max: number): string {
  const oneLine = text.replace(/\s+/g, ' ');
  return oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
}
