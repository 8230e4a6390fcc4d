/** Short texts the report view model uses (targets, verdicts, margins, outcomes). */
import { formatSeconds } from './charts.js';
import type { Outcome, RunRecord, Verdict } from './run-record.js';

export const NOT_APPLICABLE = 'not applicable to this test type';

export function targetText(seconds: number | null): string {
  return seconds === null ? 'no target' : formatSeconds(seconds);
}

export function verdictText(verdict: Verdict): string {
  return verdict === 'not-measured' ? 'not measured' : verdict;
}

export function measuredMissingText(record: RunRecord, verdict: Verdict): string {
  if (verdict === 'missed') return 'not recovered';
  return record.type === 'tabletop' ? NOT_APPLICABLE : 'not measured';
}

/** Margin is target − measured: positive means headroom (see runners/measure.ts verdictOf). */
export function marginText(margin: number | null): string {
  if (margin === null) return '—';
  return margin >= 0 ? `${formatSeconds(margin)} under target` : `${formatSeconds(-margin)} over target`;
}

export function signedSeconds(seconds: number): string {
  return seconds >= 0 ? `+${formatSeconds(seconds)}` : `−${formatSeconds(-seconds)}`;
}

export function outcomeText(outcome: Outcome): string {
  switch (outcome) {
    case 'passed':
      return 'Passed';
    case 'failed':
      return 'Failed';
    case 'inconclusive':
      return 'Inconclusive — the fault had no observable effect';
    case 'aborted':
      return 'Aborted — rolled back';
    case 'rollback-incomplete':
      return 'Rollback incomplete';
    default:
      return String(outcome);
  }
}

/** The banner colour: red for production, amber for staging, neutral for anything else. */
export function environmentClass(environment: string): 'production' | 'staging' | 'other' {
  const name = environment.trim().toLowerCase();
  if (/^prod(uction)?(\b|[-_])/.test(name)) return 'production';
  if (/^stag(e|ing)?(\b|[-_])/.test(name)) return 'staging';
  return 'other';
}

/** `1-5, 9, 12-13`: missing heartbeats are usually runs, and there may be thousands. */
export function summarizeSeqs(seqs: number[]): string {
  const sorted = [...new Set(seqs)].sort((a, b) => a - b);
  const ranges: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    ranges.push(i === j ? `${sorted[i]}` : `${sorted[i]}–${sorted[j]}`);
    i = j + 1;
  }
  const shown = ranges.slice(0, 20).join(', ');
  return ranges.length > 20 ? `${shown}, … (${sorted.length} in all)` : shown;
}

// Exported for tests: the SVG label escaping is part of the report's safety.

/**
 * Text from a run record as inline Markdown that renders as exactly that text and never as
 * markup: no link, image, reference definition, autolink, raw HTML, emphasis, table break or
 * entity from user text. Markdown escapes (backslashes), not HTML entities, so `primary's`
 * stays `primary's` in the file. One line: line breaks become spaces (table cells, list items).
 *
 * - always escaped: `\` `` ` `` `*` `_` `[` `]` `<` `>` `|` `~` `&` (links, code, emphasis,
 *   HTML and autolinks, tables, strikethrough, entity references);
 * - at the start, followed by a space: `#` `+` `-` and `1.`/`1)` (headings, lists), and a line
 *   of `=` (a setext underline);
 * - the bare-URL autolinks of GFM (`https://`, `www.`, `name@host`): `\://`, `www\.`, `\@`.
 */
export function markdownInline(value: unknown): string {
  let text = String(value ?? '').replace(/\r\n?|\n/g, ' ');
  text = text.replace(/[\\`*_[\]<>|~&]/g, (char) => `\\${char}`);
  text = text.replace(/:(?=\/\/)/g, '\\:').replace(/\b(www)\./gi, '$1\\.').replace(/(\w)@(?=\w)/g, '$1\\@');
  text = text.replace(/^(\s*)([#+-])(?=\s|$)/, '$1\\$2').replace(/^(\s*)(=+\s*)$/, '$1\\$2').replace(/^(\s*\d+)([.)])(?=\s|$)/, '$1\\$2');
  return text;
}

/** Text for a Markdown code span: backticks and line breaks cannot end it early. */
export function markdownCode(value: unknown): string {
  const text = String(value ?? '').replace(/[\r\n`]/g, ' ');
  return `\`${text}\``;
}
