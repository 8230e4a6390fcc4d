/**
 * "Did you mean …?" for misspelt keys, kinds, systems and enum values.
 *
 * Optimal string alignment distance (Damerau-Levenshtein restricted to adjacent swaps): a
 * transposition such as `tragets` → `targets` costs 1, which is how people actually mistype.
 */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  // Three rolling rows: the transposition step looks two rows back.
  let twoBack = new Array<number>(b.length + 1).fill(0);
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  let current = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    current[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const substitution = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + substitution);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, twoBack[j - 2]! + 1);
      }
      current[j] = best;
    }
    [twoBack, previous, current] = [previous, current, twoBack];
  }
  return previous[b.length]!;
}

/**
 * The candidate closest to `word`, or undefined when none is close enough to be a plausible
 * typo. The allowance grows with length (a third of the word, at least 1, at most 3) so that
 * `rto` does not "mean" `rpo`'s neighbours by accident yet `partcipants` still finds its key.
 * Case differences are free: `Failover` suggests `failover`.
 */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const needle = word.toLowerCase();
  const allowance = Math.min(3, Math.max(1, Math.floor(needle.length / 3)));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(needle, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  // Replacing every character of a one- or two-letter word is not a typo (`5` does not "mean" `1`).
  return bestDistance <= allowance && bestDistance < needle.length ? best : undefined;
}

/** `a`, `b` or `c` — for hints that list the valid choices. */
export function listChoices(choices: readonly string[], conjunction = 'or'): string {
  const quoted = choices.map((choice) => `\`${choice}\``);
  if (quoted.length <= 1) return quoted.join('');
  return `${quoted.slice(0, -1).join(', ')} ${conjunction} ${quoted[quoted.length - 1]}`;
}
