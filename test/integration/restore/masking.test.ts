/**
 * Masking applied to a real PostgreSQL copy, and verified against its source (issue 12).
 *
 * The source is a database the test fills itself, with e-mail addresses, names and phone
 * numbers it knows; each test gets a fresh copy (CREATE DATABASE … TEMPLATE of an identical
 * database). What masking wrote is graded against Node's own crypto (HMAC-SHA256 / SHA-256 of
 * the values the test inserted), and a deliberately incomplete masking must be caught with
 * exactly as many matches as the test left behind.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../../runners/drivers/postgres/server.js';
import { applyMasking, MaskingError, MaskingPreflightError, preflightMasking, verifyMasking } from '../../../runners/restore/masking.js';
import type { MaskingRule } from '../../../scenarios/masking.js';
import { type TestCluster, startTestCluster } from '../../helpers/pg-cluster.js';

const ROWS = 500;
const EVENTS = 50_000;
const KEY = 'drill-masking-key-9f3b2c';

interface Person {
  id: number;
  email: string;
  full_name: string | null;
  phone: string | null;
}

// Low-entropy personal data, as in real tables; every 10th name and every 7th phone is NULL.
const people: Person[] = Array.from({ length: ROWS }, (_, index) => ({
  id: index + 1,
  email: `user${index + 1}@example.com`,
  full_name: index % 10 === 9 ? null : `Person Number${index + 1}`,
  phone: index % 7 === 6 ? null : `+34 600 ${String(100_000 + index).slice(0, 6)}`,
}));
const nonNull = (field: keyof Person) => people.filter((p) => p[field] !== null).length;

const RULES: MaskingRule[] = [
  { table: 'public.customers', column: 'email', method: 'hash' },
  { table: 'customers', column: 'full_name', method: 'redact' },
  { table: 'customers', column: 'phone', method: 'null' },
  { table: '"Sales"."Leads"', column: '"Contact Email"', method: 'hash' },
  // References customers.email: hashed with the same key, the reference still holds.
  { table: 'orders', column: 'customer_email', method: 'hash' },
];
const EMAIL_RULES = [RULES[0]!, RULES[4]!];

let cluster: TestCluster;
let source: pg.Client;
let copy: pg.Client | undefined;
let copies = 0;

const at = (database: string) => connect({ host: cluster.primary.host, port: cluster.primary.port, user: 'postgres', password: cluster.password, database }, 10_000);

/** A fresh copy of the source database, connected. */
async function freshCopy(): Promise<pg.Client> {
  const name = `shop_copy_${++copies}`;
  await source.query(`create database ${name} template shop_template`);
  copy = await at(name);
  return copy;
}

// The embedded PostgreSQL, and Debian's PostgreSQL 15 (the version of the trial) when installed.
const SYSTEM_PG15 = '/usr/lib/postgresql/15/bin';
const servers: Array<{ name: string; binDir?: string }> = [{ name: 'embedded PostgreSQL' }, ...(fs.existsSync(`${SYSTEM_PG15}/postgres`) ? [{ name: 'PostgreSQL 15', binDir: SYSTEM_PG15 }] : [])];

describe.each(servers)('$name', ({ binDir }) => {
  beforeAll(async () => {
    cluster = await startTestCluster(binDir ? { binDir } : {});
    const admin = await at('postgres');
    await admin.query('create database shop_template');
    const template = await at('shop_template');
    await template.query(`
      create table customers (
        id int primary key,
        email varchar(200) not null unique check (email <> ''),
        full_name text,
        phone varchar(20),
        born date,
        visits int not null default 0,
        short_code varchar(8)
      );
      create table audit (at timestamptz default now(), old_email text);
      create function audit_customers() returns trigger language plpgsql as $$
        begin insert into audit(old_email) values (old.email); return new; end $$;
      create trigger customers_audit before update on customers for each row execute function audit_customers();
      create schema "Sales";
      create table "Sales"."Leads" (id serial primary key, "Contact Email" text);
      create view customer_emails as select email from customers;
      create table orders (id int primary key, customer_email varchar(200) references customers(email));
    `);
    await template.query(
      `insert into customers (id, email, full_name, phone) select * from unnest($1::int[], $2::text[], $3::text[], $4::text[])`,
      [people.map((p) => p.id), people.map((p) => p.email), people.map((p) => p.full_name), people.map((p) => p.phone)],
    );
    await template.query(`insert into "Sales"."Leads" ("Contact Email") select email from customers where id <= 50`);
    await template.query(`insert into orders select id, email from customers where id <= 20`);
    // Large enough that the source is block-sampled rather than read end to end.
    await template.query(`create table events as select g as id, 'visitor' || g || '@example.org' as email from generate_series(1, ${EVENTS}) g`);
    await template.query('analyze');
    await template.end();
    await admin.query('create database shop template shop_template');
    await admin.end();
    source = await at('shop');
    await source.query('select 1');
  });

  afterEach(async () => {
    await copy?.end();
    copy = undefined;
  });

  afterAll(async () => {
    await source?.end();
    await cluster?.destroy();
    copies = 0;
  });

  const hmacHex = (value: string) => crypto.createHmac('sha256', KEY).update(value, 'utf8').digest('hex');
  const sha256Hex = (value: string) => crypto.createHash('sha256').update(value, 'utf8').digest('hex');

  describe('applyMasking', () => {
    it('applies hash (keyed HMAC-SHA256), redact and null in one go, matching Node crypto row by row', async () => {
      const db = await freshCopy();
      const before = (await db.query(`select pg_relation_filenode('customers') as f`)).rows[0].f;
      if (binDir) expect(Number((await db.query('show server_version_num')).rows[0].server_version_num)).toBeLessThan(160_000);
      const applied = await applyMasking(db, RULES, KEY);

      expect(applied.hash).toBe('hmac-sha256');
      expect(applied.rewritten).toBe(true);
      expect(applied.rules).toEqual([
        { table: 'public.customers', column: 'email', method: 'hash', rowsAffected: ROWS },
        { table: 'public.customers', column: 'full_name', method: 'redact', rowsAffected: nonNull('full_name') },
        { table: 'public.customers', column: 'phone', method: 'null', rowsAffected: nonNull('phone') },
        { table: '"Sales"."Leads"', column: '"Contact Email"', method: 'hash', rowsAffected: 50 },
        { table: 'public.orders', column: 'customer_email', method: 'hash', rowsAffected: 20 },
      ]);
      expect(Number((await db.query('select count(*) as n from orders o join customers c on c.email = o.customer_email')).rows[0].n)).toBe(20);

      const rows = (await db.query('select id, email, full_name, phone from customers order by id')).rows as Person[];
      expect(rows).toHaveLength(ROWS);
      for (const [index, row] of rows.entries()) {
        const original = people[index]!;
        expect(row.email).toBe(hmacHex(original.email));
        expect(row.full_name).toBe(original.full_name === null ? null : '[redacted]');
        expect(row.phone).toBeNull();
      }
      const leads = (await db.query(`select "Contact Email" as e from "Sales"."Leads" order by id`)).rows.map((r) => r.e);
      expect(leads).toEqual(people.slice(0, 50).map((p) => hmacHex(p.email)));
      // Deterministic under one key: the leads' hashed e-mails still join the customers' ones.
      expect(Number((await db.query(`select count(*) as n from "Sales"."Leads" l join customers c on c.email = l."Contact Email"`)).rows[0].n)).toBe(50);
      // The audit trigger did not fire, so no original e-mail was copied into another table.
      expect(Number((await db.query('select count(*) as n from audit')).rows[0].n)).toBe(0);
      // The table was rewritten, so the old row versions are not in its files any more.
      expect((await db.query(`select pg_relation_filenode('customers') as f`)).rows[0].f).not.toBe(before);
      // The connection's statement timeout (drillbook's connect() sets one) is back as it was.
      expect((await db.query('show statement_timeout')).rows[0].statement_timeout).toBe('10s');
      // The source is untouched.
      expect((await source.query('select email from customers where id = 1')).rows[0].email).toBe('user1@example.com');
    });

    it('hashes with plain SHA-256 when no key is given', async () => {
      const db = await freshCopy();
      const applied = await applyMasking(db, EMAIL_RULES, undefined, { rewrite: false });
      expect(applied).toMatchObject({ hash: 'sha256', rewritten: false });
      const rows = (await db.query('select email from customers order by id limit 3')).rows.map((r) => r.email);
      expect(rows).toEqual(people.slice(0, 3).map((p) => sha256Hex(p.email)));
    });

    it('gives the same digest as Node for a key longer than the HMAC block and for non-ASCII text', async () => {
      const db = await freshCopy();
      const longKey = 'k'.repeat(100);
      await db.query(`update customers set email = 'josé.ñúñez@example.com' where id = 100`);
      await applyMasking(db, EMAIL_RULES, Buffer.from(longKey), { rewrite: false });
      expect((await db.query('select email from customers where id = 100')).rows[0].email).toBe(crypto.createHmac('sha256', longKey).update('josé.ñúñez@example.com', 'utf8').digest('hex'));
    });

    it('refuses at preflight, listing every problem, and changes nothing', async () => {
      const db = await freshCopy();
      const bad: MaskingRule[] = [
        { table: 'customers', column: 'born', method: 'redact' }, // date: not text
        { table: 'customers', column: 'visits', method: 'null' }, // NOT NULL
        { table: 'customers', column: 'short_code', method: 'hash' }, // varchar(8) < 64
        { table: 'customers', column: 'email', method: 'redact' }, // unique
        { table: 'customers', column: 'e_mail', method: 'hash' }, // no such column
        { table: 'clients', column: 'email', method: 'hash' }, // no such table
        { table: 'customer_emails', column: 'email', method: 'hash' }, // a view
        { table: 'customers', column: 'full_name', method: 'redact' }, // fine
      ];
      const error = await applyMasking(db, bad, KEY).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MaskingPreflightError);
      const problems = (error as MaskingPreflightError).problems;
      expect(problems.map((p) => p.rule)).toEqual([0, 1, 2, 3, 3, 4, 5, 6]);
      expect(problems[0]!.message).toBe('"public"."customers"."born" (date) is not a text column, so redact cannot write \'[redacted]\' into it');
      expect(problems[0]!.hint).toBe('use method null for non-text columns');
      expect(problems[1]!.message).toMatch(/"visits" \(integer\) is NOT NULL/);
      expect(problems[2]!.message).toMatch(/character varying\(8\)\) holds at most 8 characters; hash writes 64/);
      expect(problems[3]!.message).toMatch(/has a unique index: redact would give every row the same value/);
      expect(problems[4]!.message).toMatch(/is referenced by public\.orders\.customer_email/);
      expect(problems[5]).toMatchObject({ message: '"public"."customers" has no column "e_mail"', hint: expect.stringContaining('email, full_name, phone') });
      expect(problems[6]!.message).toMatch(/table clients does not exist in database shop_copy_/);
      expect(problems[7]!.message).toMatch(/is a view, not a table/);
      expect((await db.query('select full_name from customers where id = 1')).rows[0].full_name).toBe('Person Number1');
      // The same preflight runs against the source before T0.
      await expect(preflightMasking(source, RULES)).resolves.toHaveLength(5);
    });

    it('refuses a masked key whose foreign key on the other side would break, since FK checks are off while masking', async () => {
      const db = await freshCopy();
      const referenced = await preflightMasking(db, [RULES[0]!]).catch((e: unknown) => e);
      expect(referenced).toBeInstanceOf(MaskingPreflightError);
      expect((referenced as MaskingPreflightError).problems).toEqual([
        {
          rule: 0,
          message: 'public.customers.email is referenced by public.orders.customer_email (orders_customer_email_fkey), which is not masked: the references would point nowhere',
          hint: 'add a rule for public.orders.customer_email with hash (or null)',
        },
      ]);
      const referencing = (await preflightMasking(db, [RULES[4]!]).catch((e: MaskingPreflightError) => e)) as MaskingPreflightError;
      expect(referencing.problems[0]!.message).toBe(
        "public.orders.customer_email references public.customers.email (orders_customer_email_fkey), which is not masked: hash would leave the copy's references pointing nowhere",
      );
      const mismatched = (await preflightMasking(db, [RULES[0]!, { ...RULES[4]!, method: 'redact' }]).catch((e: MaskingPreflightError) => e)) as MaskingPreflightError;
      expect(mismatched.problems.map((p) => p.rule)).toEqual([0, 1]);
      // A referencing column set to NULL, or both sides hashed, keeps every reference valid.
      await expect(preflightMasking(db, [{ ...RULES[4]!, method: 'null' }])).resolves.toHaveLength(1);
      await expect(preflightMasking(db, EMAIL_RULES)).resolves.toHaveLength(2);
    });

    it('rolls every rule back when one fails in the database', async () => {
      const db = await freshCopy();
      await db.query(`alter table customers add constraint email_has_at check (email like '%@%')`);
      const error = await applyMasking(db, [RULES[1]!, ...EMAIL_RULES], KEY).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MaskingError);
      expect((error as MaskingError).rule).toBe(1);
      expect((error as Error).message).toMatch(/^masking public\.customers\.email \(hash\) failed: .*email_has_at/);
      // The first rule (redact full_name) was undone with the transaction.
      expect((await db.query('select full_name from customers where id = 1')).rows[0].full_name).toBe('Person Number1');
    });

    it('keeps the key out of the copy\'s server log even when the copy logs every statement with its parameters', async () => {
      const db = await freshCopy();
      const database = (await db.query('select current_database() as d')).rows[0].d as string;
      await source.query(`alter database ${database} set log_statement = 'all'`);
      await source.query(`alter database ${database} set log_parameter_max_length = -1`);
      await db.end();
      copy = await at(database);
      const marker = `marker-${crypto.randomBytes(4).toString('hex')}`;
      await copy.query('select $1::text', [marker]);
      // A masking that fails in the database: PostgreSQL's error detail would name the row
      // ("Failing row contains (1, user1@example.com, …)"); it must not reach the log.
      await copy.query(`alter table customers add constraint not_redacted check (full_name is distinct from '[redacted]')`);
      await expect(applyMasking(copy, [RULES[1]!], KEY, { rewrite: false })).rejects.toThrow(/not_redacted/);
      await copy.query('alter table customers drop constraint not_redacted');
      await applyMasking(copy, RULES, KEY, { rewrite: false });
      // Verification sends the digests it looks for to the copy: they stay out of the log too.
      expect((await verifyMasking(copy, source, RULES, ROWS)).verdict).toBe('verified');
      await copy.query('select pg_sleep(0.2)');
      const log = fs.readFileSync(`${cluster.primary.dataDir}.log`, 'utf8');
      expect(log).toContain(marker); // the log does record statements with parameters…
      const inner = Buffer.from(Buffer.alloc(64).map((_, i) => (KEY.charCodeAt(i) || 0) ^ 0x36)).toString('hex');
      expect(log).not.toContain(inner); // …but not the padded key
      expect(log).not.toContain(Buffer.from(KEY).toString('hex'));
      expect(log).not.toContain('user1@example.com');
      expect(log).not.toContain(sha256Hex('user1@example.com'));
      expect(log).not.toContain(sha256Hex('user2@example.com'));
      expect(log).not.toContain('Failing row');
    });
  });

  describe('verifyMasking', () => {
    it('verifies a complete masking: no sampled original remains, nothing unmasked, and the result holds no value or key', async () => {
      const db = await freshCopy();
      const applied = await applyMasking(db, RULES, KEY);
      const result = await verifyMasking(db, source, RULES, 100, { applied });
      expect(result.verdict).toBe('verified');
      expect(result.matches).toBe(0);
      expect(result.unmaskedRows).toBe(0);
      expect(result.sampleSize).toBe(100);
      expect(result.rules).toEqual([
        { table: 'public.customers', column: 'email', method: 'hash', rowsAffected: ROWS, sampled: 100, matches: 0, unmaskedRows: 0 },
        { table: 'public.customers', column: 'full_name', method: 'redact', rowsAffected: nonNull('full_name'), sampled: 100, matches: 0, unmaskedRows: 0 },
        { table: 'public.customers', column: 'phone', method: 'null', rowsAffected: nonNull('phone'), sampled: 100, matches: 0, unmaskedRows: 0 },
        { table: '"Sales"."Leads"', column: '"Contact Email"', method: 'hash', rowsAffected: 50, sampled: 50, matches: 0, unmaskedRows: 0 },
        { table: 'public.orders', column: 'customer_email', method: 'hash', rowsAffected: 20, sampled: 20, matches: 0, unmaskedRows: 0 },
      ]);
      const evidence = JSON.stringify({ applied, result });
      for (const person of people.slice(0, 20)) {
        expect(evidence).not.toContain(person.email);
        if (person.full_name) expect(evidence).not.toContain(person.full_name);
        expect(evidence).not.toContain(hmacHex(person.email));
        expect(evidence).not.toContain(sha256Hex(person.email));
      }
      expect(evidence).not.toContain(KEY);
    });

    it('catches rows written with original values after masking: matches equal the rows left behind', async () => {
      const db = await freshCopy();
      await applyMasking(db, RULES, KEY, { rewrite: false });
      // Seven originals reach the copy afterwards (a late replay, a loader, a second restore).
      const late = people.slice(0, 7);
      await db.query(
        `insert into customers (id, email, full_name) select * from unnest($1::int[], $2::text[], $3::text[])`,
        [late.map((p) => 10_000 + p.id), late.map((p) => p.email), late.map((p) => p.full_name)],
      );
      // Sampling every source row makes the expected count exact.
      const result = await verifyMasking(db, source, RULES, ROWS);
      expect(result.verdict).toBe('failed');
      const email = result.rules[0]!;
      expect(email).toMatchObject({ sampled: ROWS, matches: 7, unmaskedRows: 7, rowsAffected: null });
      expect(result.rules[1]).toMatchObject({ matches: 7, unmaskedRows: 7 });
      expect(result.rules[2]).toMatchObject({ matches: 0, unmaskedRows: 0 });
      expect(result.matches).toBe(14);
      expect(JSON.stringify(result)).not.toContain('user1@example.com');
    });

    it('catches a rule applied to the wrong column: the declared column still holds its originals', async () => {
      const db = await freshCopy();
      // Declared: hash customers.email. Applied by mistake: hash customers.full_name.
      await applyMasking(db, [{ table: 'customers', column: 'full_name', method: 'hash' }], KEY, { rewrite: false });
      const result = await verifyMasking(db, source, [RULES[0]!], 50);
      expect(result.verdict).toBe('failed');
      // Every sampled e-mail is still in the copy, and every row of the column is unmasked.
      expect(result.rules[0]).toMatchObject({ sampled: 50, matches: 50, unmaskedRows: ROWS });
    });

    it('catches an unmasked copy even when the source sample happens to miss the rows', async () => {
      const db = await freshCopy();
      await db.query(`insert into "Sales"."Leads" ("Contact Email") values ('not-in-source@example.com')`);
      await applyMasking(db, [RULES[3]!], KEY, { rewrite: false });
      await db.query(`insert into "Sales"."Leads" ("Contact Email") values ('late@example.com')`);
      const result = await verifyMasking(db, source, [RULES[3]!], 10);
      expect(result.rules[0]).toMatchObject({ sampled: 10, matches: 0, unmaskedRows: 1 });
      expect(result.verdict).toBe('failed');
    });

    it('samples a large source table and still counts every original left in the copy', async () => {
      const db = await freshCopy();
      const events: MaskingRule = { table: 'events', column: 'email', method: 'hash' };
      // Unmasked: each of the 200 distinct sampled originals is found once in the copy.
      const unmasked = await verifyMasking(db, source, [events], 200);
      expect(unmasked.rules[0]).toMatchObject({ sampled: 200, matches: 200, unmaskedRows: EVENTS });
      await applyMasking(db, [events], KEY, { rewrite: false });
      const masked = await verifyMasking(db, source, [events], 200);
      expect(masked).toMatchObject({ verdict: 'verified', matches: 0, unmaskedRows: 0 });
      expect(masked.rules[0]!.sampled).toBe(200);
    });

    it('names the database that lacks a rule\'s table', async () => {
      const db = await freshCopy();
      await db.query('drop table "Sales"."Leads"');
      const error = await verifyMasking(db, source, RULES, 10).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MaskingPreflightError);
      expect((error as Error).message).toMatch(/rules\[3\]: on the copy: table "Sales"."Leads" does not exist/);
      await expect(verifyMasking(db, source, RULES, 0)).rejects.toThrow(/sampleSize must be a positive integer/);
    });
  });
});
