/**
 * Colour for the outcome words on a terminal. Off when the stream is not a TTY, when
 * NO_COLOR is set to anything non-empty (https://no-color.org) or TERM is dumb; FORCE_COLOR=1
 * turns it on for a pipe (NO_COLOR still wins).
 */
const CODES = { red: [31, 39], green: [32, 39], yellow: [33, 39], bold: [1, 22] } as const;

export function colourEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true;
  if (env.TERM === 'dumb') return false;
  return Boolean(stream.isTTY);
}

export function paint(enabled: boolean, colour: keyof typeof CODES, text: string): string {
  if (!enabled) return text;
  const [open, close] = CODES[colour];
  return `\x1b[${open}m${text}\x1b[${close}m`;
}

/** PASSED green, FAILED/ABORTED/… red, INCONCLUSIVE yellow; other words unchanged. */
export function outcomeWord(enabled: boolean, outcome: string): string {
  const word = outcome.toUpperCase();
  if (outcome === 'passed') return paint(enabled, 'green', word);
  if (outcome === 'inconclusive') return paint(enabled, 'yellow', word);
  return paint(enabled, 'red', word);
}
