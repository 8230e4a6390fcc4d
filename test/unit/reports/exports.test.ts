/**
 * Exports: JUnit XML that CI dashboards accept (well-formed, right counts, failures with
 * their figures), run.json byte for byte, and the `report` command's formats and refusals.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { junitXml } from '../../../reports/exports.js';
import { PROBES_CSV_HEADER, probeCsvLine } from '../../../reports/evidence-files.js';
import { runCli } from '../../helpers/cli.js';
import { makeProbes, makeRunRecord } from '../../helpers/run-record-fixture.js';

/**
 * A strict XML 1.0 well-formedness check for what JUnit files contain: one root, balanced
 * and properly nested tags, quoted unique attributes, only the five predefined entities or
 * character references, no raw `<` or `&` in text, no forbidden characters.
 */
function assertWellFormedXml(xml: string): { name: string; attrs: Record<string, string>; children: unknown[] } {
  type El = { name: string; attrs: Record<string, string>; children: El[]; text: string };
  let i = 0;
  const fail = (msg: string): never => {
    throw new Error(`not well-formed at ${i}: ${msg}: ${JSON.stringify(xml.slice(i, i + 40))}`);
  };
  if (/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/.test(xml)) fail('forbidden character');
  const checkText = (text: string) => {
    if (text.includes('<')) fail('raw < in text');
    for (const m of text.matchAll(/&([^;]*);?/g)) if (!/^&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+);$/.test(m[0])) fail(`bad entity ${m[0]}`);
  };
  if (xml.startsWith('<?xml')) i = xml.indexOf('?>') + 2;
  const stack: El[] = [];
  let root: El | undefined;
  const NAME = /[A-Za-z_][\w.-]*/y;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = xml.slice(i, lt === -1 ? xml.length : lt);
    checkText(text);
    if (stack.length === 0 && text.trim() !== '') fail('text outside the root');
    if (stack.length > 0) stack.at(-1)!.text += text;
    if (lt === -1) break;
    i = lt + 1;
    if (xml[i] === '/') {
      i++;
      NAME.lastIndex = i;
      const m = NAME.exec(xml) ?? fail('bad end tag');
      i = NAME.lastIndex;
      if (xml[i] !== '>') fail('end tag not closed');
      i++;
      const open = stack.pop() ?? fail('end tag without start');
      if (open.name !== m[0]) fail(`</${m[0]}> closes <${open.name}>`);
      continue;
    }
    NAME.lastIndex = i;
    const m = NAME.exec(xml) ?? fail('bad tag name');
    i = NAME.lastIndex;
    const el: El = { name: m[0], attrs: {}, children: [], text: '' };
    for (;;) {
      while (/\s/.test(xml[i] ?? '')) i++;
      if (xml.startsWith('/>', i) || xml[i] === '>') break;
      NAME.lastIndex = i;
      const a = NAME.exec(xml) ?? fail('bad attribute name');
      i = NAME.lastIndex;
      if (xml[i] !== '=' || xml[i + 1] !== '"') fail('attribute not ="quoted"');
      const end = xml.indexOf('"', i + 2);
      const value = xml.slice(i + 2, end);
      checkText(value);
      if (a[0] in el.attrs) fail(`duplicate attribute ${a[0]}`);
      el.attrs[a[0]] = value.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
      i = end + 1;
    }
    if (stack.length > 0) stack.at(-1)!.children.push(el);
    else if (root) fail('second root element');
    else root = el;
    if (xml.startsWith('/>', i)) i += 2;
    else {
      i++;
      stack.push(el);
    }
  }
  if (stack.length > 0) fail(`unclosed <${stack.at(-1)!.name}>`);
  return root ?? fail('no root element');
}

type Node = { name: string; attrs: Record<string, string>; children: Node[] };
const all = (node: Node, name: string): Node[] => [...(node.name === name ? [node] : []), ...node.children.flatMap((c) => all(c, name))];

describe('junitXml', () => {
  it('a passing run: one suite, a case per target and per check, no failures', () => {
    const record = makeRunRecord();
    const root = assertWellFormedXml(junitXml(record)) as Node;
    expect(root.name).toBe('testsuites');
    const [suite] = all(root, 'testsuite');
    expect(all(root, 'testsuite')).toHaveLength(1);
    const cases = all(root, 'testcase');
    expect(cases).toHaveLength(2 + record.checks.length);
    expect(suite!.attrs.tests).toBe(String(cases.length));
    expect(suite!.attrs.failures).toBe('0');
    expect(suite!.attrs.errors).toBe('0');
    expect(cases.map((c) => c.attrs.name)).toEqual(['RTO within target (≤ 900 s)', 'RPO within target (≤ 60 s)', 'check: orders row count', 'check: orders checksum']);
    expect(all(root, 'failure')).toHaveLength(0);
    expect(all(root, 'property').find((p) => p.attrs.name === 'environment')!.attrs.value).toBe('staging');
  });

  it('missed targets and failed checks are failures with their figures; counts match', () => {
    const record = makeRunRecord({
      outcome: 'failed',
      targets: { rtoSeconds: 10 },
      verdict: { rto: 'missed', rtoMarginSeconds: -2.34 },
      checks: [
        { name: 'orders row count', type: 'row-count', passed: false, expected: '>= 10000', actual: '9000' },
        { name: 'checksum', type: 'checksum', passed: true, expected: 'x', actual: 'x' },
        { name: 'no <bad> & "odd" rows\u0001', type: 'sql', passed: false, expected: '0', actual: '3' },
      ],
    });
    const xml = junitXml(record);
    const root = assertWellFormedXml(xml) as Node;
    const suite = all(root, 'testsuite')[0]!;
    const failures = all(root, 'failure');
    expect(suite.attrs.tests).toBe('5');
    expect(suite.attrs.failures).toBe('3');
    expect(root.attrs.failures).toBe('3');
    expect(failures.map((f) => f.attrs.type)).toEqual(['missed-target', 'failed-check:row-count', 'failed-check:sql']);
    expect(failures[0]!.attrs.message).toBe('RTO missed: measured 12.34 s ± 0.26 s vs target 10 s (margin -2.34 s)');
    expect(failures[1]!.attrs.message).toBe('orders row count failed: expected >= 10000, got 9000');
    expect(failures[2]!.attrs.message).toContain('no <bad> & "odd" rows\uFFFD failed');
  });

  it('an aborted run without measurements has errors; a tabletop skips the targets', () => {
    const aborted = makeRunRecord({ outcome: 'aborted', checks: [], verdict: { rto: 'not-measured', rpo: 'not-measured' }, abort: { reason: 'guardrail maxDuration', at: '2026-11-26T17:00:10.000Z' } });
    (aborted.measured as { rto: unknown; rpo: unknown }) = { rto: null, rpo: null };
    const a = assertWellFormedXml(junitXml(aborted)) as Node;
    expect(all(a, 'error').map((e) => e.attrs.message)).toEqual(['RTO not measured: the run ended aborted (guardrail maxDuration)', 'RPO not measured: the run ended aborted (guardrail maxDuration)']);
    expect(all(a, 'testsuite')[0]!.attrs.errors).toBe('2');

    const tabletop = makeRunRecord({ type: 'tabletop', checks: [], verdict: { rto: 'not-measured', rpo: 'not-measured' } });
    (tabletop.measured as { rto: unknown; rpo: unknown }) = { rto: null, rpo: null };
    const t = assertWellFormedXml(junitXml(tabletop)) as Node;
    expect(all(t, 'skipped')).toHaveLength(2);
    expect(all(t, 'testsuite')[0]!.attrs.skipped).toBe('2');
  });

  it('the checker itself rejects broken XML', () => {
    expect(() => assertWellFormedXml('<a><b></a></b>')).toThrow(/closes/);
    expect(() => assertWellFormedXml('<a x="1 & 2"/>')).toThrow(/entity/);
    expect(() => assertWellFormedXml('<a>1 < 2</a>')).toThrow();
    expect(() => assertWellFormedXml('<a/><b/>')).toThrow(/second root/);
  });
});

describe('drillbook report --format', () => {
  let work: string;
  let runDir: string;
  beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'drillbook-exports-'));
    runDir = path.join(work, '2026-11-26T170000Z-orders-db-failover-7f3c2a91');
    fs.mkdirSync(runDir);
    fs.writeFileSync(path.join(runDir, 'run.json'), `${JSON.stringify(makeRunRecord({ outcome: 'failed', verdict: { rpo: 'missed' } }), null, 2)}\n`);
    fs.writeFileSync(path.join(runDir, 'probes.csv'), `${[PROBES_CSV_HEADER, ...makeProbes().map(probeCsvLine)].join('\n')}\n`);
    fs.writeFileSync(path.join(runDir, 'timeline.jsonl'), '');
  });
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  it('writes junit, json (run.json byte for byte), html and md into exports/', async () => {
    const result = await runCli(['report', runDir, '--format', 'junit,json,html,md']);
    expect(result.code, result.stderr).toBe(0);
    const exportsDir = path.join(runDir, 'exports');
    expect(fs.readdirSync(exportsDir).sort()).toEqual(['junit.xml', 'report.html', 'report.md', 'run.json']);
    expect(fs.readFileSync(path.join(exportsDir, 'run.json'))).toEqual(fs.readFileSync(path.join(runDir, 'run.json')));
    const root = assertWellFormedXml(fs.readFileSync(path.join(exportsDir, 'junit.xml'), 'utf8')) as Node;
    expect(all(root, 'failure').map((f) => f.attrs.type)).toEqual(['missed-target']);
  });

  it('refuses unknown formats, a missing run, and a PDF without Chromium: exit 2, nothing written', async () => {
    const out = path.join(work, 'out');
    const unknown = await runCli(['report', runDir, '--format', 'html,docx', '--out', out]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('docx not supported (supported: html, md, json, junit, pdf)');
    const missing = await runCli(['report', path.join(work, 'nope'), '--format', 'junit', '--out', out]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('run.json not found');
    const pdf = await runCli(['report', runDir, '--format', 'html,pdf', '--out', out], { env: { DRILLBOOK_CHROMIUM: path.join(work, 'no-chromium') } });
    expect(pdf.code).toBe(2);
    expect(pdf.stderr).toContain('PDF export needs headless Chromium');
    expect(pdf.stderr).toContain('apt-get install chromium');
    expect(fs.existsSync(out)).toBe(false);
    const before = fs.readFileSync(path.join(runDir, 'run.json'));
    const intoBundle = await runCli(['report', runDir, '--format', 'html,json', '--out', runDir]);
    expect(intoBundle.code).toBe(2);
    expect(intoBundle.stderr).toContain('that is the run directory itself');
    expect(fs.existsSync(path.join(runDir, 'report.html'))).toBe(false);
    expect(fs.readFileSync(path.join(runDir, 'run.json'))).toEqual(before);
  });
});
