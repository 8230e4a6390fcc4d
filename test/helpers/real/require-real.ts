/**
 * Whether a test can use real components from Debian packages, decided per component: the
 * binaries are installed, and for the ones PostgreSQL runs under, we are root and can switch
 * to the `postgres` user (PostgreSQL refuses to run as root).
 *
 * Unavailable → the suite is skipped with a loud console.warn naming the component and why.
 * With `DRILLBOOK_REQUIRE_REAL=1` (which `.ci/run` sets) it fails instead: CI must never be
 * green because the real tests quietly did not run.
 *
 *   describeReal(['patroni', 'etcd', 'haproxy'], 'leader kill on Patroni', () => { … });
 *   itReal('pgbackrest', 'restores the full backup', async () => { … }, 120_000);
 *
 * `DRILLBOOK_REAL_HIDE=patroni,haproxy` makes the listed components count as missing, to see
 * (and test) the skip and fail paths on a machine that has everything.
 */
import fs from 'node:fs';
import path from 'node:path';
import { type SuiteFactory, type SuiteOptions, describe, it } from 'vitest';
import { isRoot, osUser } from './processes.js';

export type RealComponent = 'postgres' | 'patroni' | 'etcd' | 'haproxy' | 'pgbackrest' | 'pgbouncer' | 'pushgateway' | 'chromium' | 'lz4' | 'zstd';

/** Debian's PostgreSQL 15 server binaries. */
export const PG15_BIN = '/usr/lib/postgresql/15/bin';

/** Which Debian package brings each component (for the hint in the reason). */
const PACKAGE: Record<RealComponent, string> = {
  postgres: 'postgresql-15',
  patroni: 'patroni',
  etcd: 'etcd-server etcd-client',
  haproxy: 'haproxy',
  pgbackrest: 'pgbackrest',
  pgbouncer: 'pgbouncer',
  pushgateway: 'prometheus-pushgateway',
  chromium: 'chromium',
  lz4: 'lz4',
  zstd: 'zstd',
};

/** The executables each component needs (names are looked up on PATH plus the sbin dirs). */
const BINARIES: Record<RealComponent, string[]> = {
  postgres: [`${PG15_BIN}/postgres`, `${PG15_BIN}/initdb`, `${PG15_BIN}/pg_ctl`, `${PG15_BIN}/pg_basebackup`, `${PG15_BIN}/pg_rewind`, `${PG15_BIN}/pg_controldata`],
  patroni: ['patroni', 'patronictl'],
  etcd: ['etcd', 'etcdctl'],
  haproxy: ['haproxy'],
  pgbackrest: ['pgbackrest'],
  pgbouncer: ['pgbouncer'],
  pushgateway: ['prometheus-pushgateway'],
  chromium: ['chromium'],
  lz4: ['lz4'],
  zstd: ['zstd'],
};

/** Components that run PostgreSQL (or act on its files) and so need root → postgres. */
const RUNS_AS_POSTGRES = new Set<RealComponent>(['postgres', 'patroni', 'pgbackrest']);
/** What each component also needs from the others. */
const NEEDS: Partial<Record<RealComponent, RealComponent[]>> = { patroni: ['postgres'], pgbackrest: ['postgres'] };

function executable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The absolute path of an executable (absolute names are checked as they are), or undefined. */
export function findBinary(name: string): string | undefined {
  if (path.isAbsolute(name)) return executable(name) ? name : undefined;
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (executable(candidate)) return candidate;
  }
  return undefined;
}

/** Like findBinary, but throws a clear error naming the package when it is missing. */
export function binary(name: string): string {
  const found = findBinary(name);
  if (found) return found;
  const owner = (Object.keys(BINARIES) as RealComponent[]).find((c) => BINARIES[c].includes(name));
  throw new Error(`${name} is not installed${owner ? ` (apt-get install ${PACKAGE[owner]})` : ''}`);
}

export interface RealAvailability {
  available: boolean;
  /** One line per missing thing, "component: why (hint)". Empty when available. */
  reasons: string[];
}

function expand(components: RealComponent[]): RealComponent[] {
  const all = new Set<RealComponent>();
  const add = (c: RealComponent) => {
    if (all.has(c)) return;
    all.add(c);
    for (const dep of NEEDS[c] ?? []) add(dep);
  };
  components.forEach(add);
  return [...all];
}

/** Checks the components (and what they need) without touching vitest. */
export function checkReal(components: RealComponent | RealComponent[]): RealAvailability {
  const list = expand(Array.isArray(components) ? components : [components]);
  const reasons: string[] = [];
  const hidden = new Set((process.env.DRILLBOOK_REAL_HIDE ?? '').split(',').map((c) => c.trim()).filter(Boolean));
  for (const component of list) if (hidden.has(component)) reasons.push(`${component}: hidden by DRILLBOOK_REAL_HIDE`);
  if (process.platform !== 'linux') reasons.push(`${list.join(', ')}: the real-component helpers need Linux (/proc), this is ${process.platform}`);
  for (const component of list) {
    for (const name of BINARIES[component]) {
      if (!findBinary(name)) reasons.push(`${component}: ${name} not found (apt-get install ${PACKAGE[component]})`);
    }
    if (RUNS_AS_POSTGRES.has(component)) {
      if (!isRoot()) reasons.push(`${component}: needs root to run PostgreSQL as the postgres user (running as uid ${process.getuid?.() ?? '?'})`);
      else if (!osUser('postgres')) reasons.push(`${component}: the postgres OS user does not exist (apt-get install ${PACKAGE.postgres})`);
    }
  }
  return { available: reasons.length === 0, reasons };
}

/** True when `DRILLBOOK_REQUIRE_REAL=1`: a missing component fails the run instead of skipping. */
export function realRequired(): boolean {
  return process.env.DRILLBOOK_REQUIRE_REAL === '1';
}

const warned = new Set<string>();

function announce(what: string, availability: RealAvailability): void {
  const key = `${what}\n${availability.reasons.join('\n')}`;
  if (warned.has(key)) return;
  warned.add(key);
  const verdict = realRequired() ? 'FAILING (DRILLBOOK_REQUIRE_REAL=1)' : 'SKIPPED';
  console.warn(`\n!!! ${verdict}: "${what}" needs real components that are not available here:\n${availability.reasons.map((r) => `!!!   - ${r}`).join('\n')}\n`);
}

function unavailableError(what: string, availability: RealAvailability): Error {
  return new Error(`"${what}" cannot run: DRILLBOOK_REQUIRE_REAL=1 and ${availability.reasons.join('; ')}`);
}

/**
 * `describe` when the components are there. Otherwise a skipped suite with a loud warning,
 * or — under DRILLBOOK_REQUIRE_REAL=1 — a suite whose single test fails with the reasons.
 */
export function describeReal(components: RealComponent | RealComponent[], name: string, fn: SuiteFactory, options: SuiteOptions = {}): void {
  const availability = checkReal(components);
  if (availability.available) {
    describe(name, options, fn);
    return;
  }
  announce(name, availability);
  if (realRequired()) {
    describe(name, () => {
      it('has its real components', () => {
        throw unavailableError(name, availability);
      });
    });
    return;
  }
  describe.skip(name, options, fn);
}

/** One test with the same rule as describeReal. */
export function itReal(components: RealComponent | RealComponent[], name: string, fn: () => Promise<void> | void, timeout?: number): void {
  const availability = checkReal(components);
  if (availability.available) {
    it(name, fn, timeout);
    return;
  }
  announce(name, availability);
  if (realRequired()) {
    it(name, () => {
      throw unavailableError(name, availability);
    });
    return;
  }
  it.skip(name, fn);
}

/**
 * For code outside vitest's collection (a bench, a script): throws under REQUIRE_REAL,
 * warns and returns false otherwise, true when everything is there.
 */
export function ensureReal(components: RealComponent | RealComponent[], what: string): boolean {
  const availability = checkReal(components);
  if (availability.available) return true;
  announce(what, availability);
  if (realRequired()) throw unavailableError(what, availability);
  return false;
}
