/**
 * Plan revisions. A ContinuityPlan carries `metadata.version` (SPEC); a remediation item
 * closes naming the plan version that carries its fix, and a later report says "plan revised
 * vN → vM". Versions are free text people write (`3`, `2026.3`, `v2.1-draft`), so they are
 * ordered the way people read them: numbers as numbers (`2026.10` after `2026.9`), a leading
 * `v` ignored, other text compared case-insensitively; a version that extends another
 * (`2026.3.1`, `3-hotfix`) comes after it. Pre-release conventions are not guessed.
 */

/** The version a validated plan names (always a string: a YAML number is kept as written). */
export function planVersion(plan: { metadata: { version: string } }): string {
  return plan.metadata.version;
}

/** Negative when `a` is an earlier version than `b`, positive when later, 0 when they are the same version. */
export function comparePlanVersions(a: string, b: string): number {
  const left = versionParts(a);
  const right = versionParts(b);
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const x = left[i];
    const y = right[i];
    if (x === undefined || y === undefined) return x === undefined ? -1 : 1; // a version that extends another comes after it: 2026.3 < 2026.3.1
    if (typeof x === 'number' && typeof y === 'number') {
      if (x !== y) return x < y ? -1 : 1;
    } else if (typeof x === 'number' || typeof y === 'number') {
      return typeof x === 'number' ? 1 : -1; // text sorts before a number in the same place
    } else if (x !== y) {
      return x < y ? -1 : 1;
    }
  }
  return 0;
}

/** `v2026.10-rc1` → [2026, 10, 'rc', 1]: runs of digits as numbers, other runs lowercased, separators dropped. */
function versionParts(version: string): Array<number | string> {
  const trimmed = version.trim().replace(/^v(?=\d)/i, '');
  return (trimmed.match(/\d+|[^\d.\-_+\s]+/g) ?? []).map((part) => (/^\d+$/.test(part) ? Number(part) : part.toLowerCase()));
}
