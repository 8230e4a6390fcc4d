/**
 * Label selectors as kubectl takes them (`app=checkout,tier in (web,api),!canary`), turned
 * into the structured form a NetworkPolicy's podSelector needs, and matched locally.
 */

export interface SelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

export interface StructuredSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: SelectorRequirement[];
}

const KEY = /^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?\/)?[a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?$/;
const VALUE = /^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?)?$/;

/** Splits on commas outside parentheses. */
function terms(selector: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(current.trim());
      current = '';
    } else current += ch;
  }
  out.push(current.trim());
  return out;
}

/** Parses a selector string; throws a sentence naming the bad term. */
export function parseSelector(selector: string): StructuredSelector {
  const matchLabels: Record<string, string> = {};
  const matchExpressions: SelectorRequirement[] = [];
  for (const term of terms(selector)) {
    if (term === '') throw new Error(`label selector "${selector}" has an empty term`);
    let m: RegExpMatchArray | null;
    if ((m = term.match(/^(\S+?)\s*(==|=|!=)\s*(\S*)$/))) {
      const [, key, op, value] = m as unknown as [string, string, string, string];
      check(key, [value], selector);
      if (op === '!=') matchExpressions.push({ key, operator: 'NotIn', values: [value] });
      else matchLabels[key] = value;
    } else if ((m = term.match(/^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/))) {
      const [, key, op, list] = m as unknown as [string, string, string, string];
      const values = list.split(',').map((v) => v.trim());
      check(key, values, selector);
      matchExpressions.push({ key, operator: op === 'in' ? 'In' : 'NotIn', values });
    } else if ((m = term.match(/^!\s*(\S+)$/))) {
      check(m[1]!, [], selector);
      matchExpressions.push({ key: m[1]!, operator: 'DoesNotExist' });
    } else if (KEY.test(term)) {
      matchExpressions.push({ key: term, operator: 'Exists' });
    } else {
      throw new Error(`label selector "${selector}": cannot read "${term}" (use key=value, key!=value, key in (a,b), key notin (a,b), key or !key)`);
    }
  }
  return {
    ...(Object.keys(matchLabels).length > 0 ? { matchLabels } : {}),
    ...(matchExpressions.length > 0 ? { matchExpressions } : {}),
  };
}

function check(key: string, values: string[], selector: string): void {
  if (!KEY.test(key)) throw new Error(`label selector "${selector}": "${key}" is not a valid label key`);
  for (const v of values) if (!VALUE.test(v)) throw new Error(`label selector "${selector}": "${v}" is not a valid label value`);
}

/** True when the labels satisfy the selector (an empty selector matches everything). */
export function matchesSelector(labels: Record<string, string> | undefined, selector: StructuredSelector): boolean {
  const have = labels ?? {};
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (have[k] !== v) return false;
  for (const r of selector.matchExpressions ?? []) {
    const present = Object.prototype.hasOwnProperty.call(have, r.key);
    switch (r.operator) {
      case 'In':
        if (!present || !(r.values ?? []).includes(have[r.key]!)) return false;
        break;
      case 'NotIn':
        if (present && (r.values ?? []).includes(have[r.key]!)) return false;
        break;
      case 'Exists':
        if (!present) return false;
        break;
      case 'DoesNotExist':
        if (present) return false;
        break;
    }
  }
  return true;
}
