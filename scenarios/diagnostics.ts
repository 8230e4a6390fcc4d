/**
 * Problems found in user files, collected rather than thrown so that one run of
 * `drillbook validate` reports all of them (STYLE practice 2). Library code only adds
 * diagnostics; the CLI prints `format()` and chooses the exit code.
 */
export type Severity = 'error' | 'warning' | 'notice';

export interface Diagnostic {
  severity: Severity;
  /** The file as the user named it (or as resolved from a reference in another file). */
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  col: number;
  /** Property path such as `spec.checks[1].table`; `(root)` for the whole document. */
  path: string;
  message: string;
  /** How to fix it, e.g. "did you mean `targets`?". */
  hint?: string;
}

/** Where a diagnostic points. */
export interface Location {
  file: string;
  line: number;
  col: number;
  path: string;
}

const SEVERITY_RANK: Record<Severity, number> = { error: 0, warning: 1, notice: 2 };

export class Diagnostics {
  readonly #items: Diagnostic[] = [];

  add(diagnostic: Diagnostic): void {
    this.#items.push(diagnostic);
  }

  error(at: Location, message: string, hint?: string): void {
    this.add({ severity: 'error', ...at, message, ...(hint === undefined ? {} : { hint }) });
  }

  warning(at: Location, message: string, hint?: string): void {
    this.add({ severity: 'warning', ...at, message, ...(hint === undefined ? {} : { hint }) });
  }

  notice(at: Location, message: string, hint?: string): void {
    this.add({ severity: 'notice', ...at, message, ...(hint === undefined ? {} : { hint }) });
  }

  /** Every diagnostic in the order added (a copy: callers cannot change the list). */
  get all(): Diagnostic[] {
    return [...this.#items];
  }

  hasErrors(): boolean {
    return this.#items.some((item) => item.severity === 'error');
  }

  count(severity: Severity): number {
    return this.#items.filter((item) => item.severity === severity).length;
  }

  /** "2 errors, 1 warning" — for the CLI's last line. */
  summary(): string {
    const parts: string[] = [];
    for (const severity of ['error', 'warning', 'notice'] as const) {
      const n = this.count(severity);
      if (n > 0) parts.push(`${n} ${severity}${n === 1 ? '' : 's'}`);
    }
    return parts.length === 0 ? 'no problems' : parts.join(', ');
  }

  /**
   * One diagnostic per line as `file:line:col: path: message` (the form editors and CI
   * annotations recognise), warnings and notices marked as such, then `  hint: …` when
   * there is one. Files keep the order in which they were first reported — the order the
   * user named them — and within a file diagnostics are sorted by position.
   */
  format(): string {
    const byFile = new Map<string, Diagnostic[]>();
    for (const item of this.#items) {
      const list = byFile.get(item.file) ?? [];
      list.push(item);
      byFile.set(item.file, list);
    }
    const lines: string[] = [];
    for (const list of byFile.values()) {
      // Array.prototype.sort is stable, so equal positions keep the order they were found in.
      const sorted = [...list].sort(
        (a, b) => a.line - b.line || a.col - b.col || SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity],
      );
      for (const item of sorted) {
        const marker = item.severity === 'error' ? '' : `${item.severity}: `;
        lines.push(`${item.file}:${item.line}:${item.col}: ${item.path}: ${marker}${item.message}`);
        if (item.hint) lines.push(`  hint: ${item.hint}`);
      }
    }
    return lines.join('\n');
  }
}

/** `spec.checks[1].table`; keys that are not plain words are quoted: `labels["app.kubernetes.io/name"]`. */
export function formatPath(path: readonly (string | number)[]): string {
  if (path.length === 0) return '(root)';
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(segment)) text += text === '' ? segment : `.${segment}`;
    else text += `[${JSON.stringify(segment)}]`;
  }
  return text;
}

/** Reports a located diagnostic in one file; `path` is a property path in that file. */
export type Reporter = (
  path: (string | number)[],
  message: string,
  opts?: { hint?: string; severity?: Severity },
) => void;
