/**
 * A new user's first minutes: `drillbook` alone prints help on stdout; every command's help
 * has Examples; a usage error points at that command's help; `init` writes files that
 * validate and carry the editor schema line; completion scripts complete in a real bash; the
 * outcome word is coloured on a terminal unless NO_COLOR.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../bin/cli.js';
import { allCommands, commandPath } from '../../bin/help.js';
import { REPO_ROOT, runCli } from '../helpers/cli.js';
import { sharedTempDir } from '../helpers/pg-cluster.js';

let work: string;
beforeAll(() => {
  work = sharedTempDir('drillbook-start-');
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('help', () => {
  it('plain `drillbook` prints help on stdout and exits 0', async () => {
    const result = await runCli([]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: drillbook /);
    expect(result.stdout).toContain('Examples:');
    expect(result.stderr).toBe('');
  });

  it('every command and sub-command has Examples in its --help', async () => {
    const program = buildProgram({ evidence: 'evidence', evidenceSource: 'default' });
    const paths = allCommands(program).filter((c) => c !== program).map(commandPath);
    expect(paths).toContain('remediation export');
    for (const p of paths) {
      const result = await runCli([...p.split(' '), '--help']);
      expect(result.code, p).toBe(0);
      expect(result.stdout, `drillbook ${p} --help`).toMatch(/\nExamples:\n {2}\$ drillbook /);
    }
  });

  it('a usage error names the sub-command whose help to read, exit 2', async () => {
    const result = await runCli(['remediation', 'close']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error: /);
    expect(result.stderr).toContain('(run drillbook remediation close --help for usage and examples)');
    const unknown = await runCli(['run', 'x.yaml', '--jsn']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('(run drillbook run --help for usage and examples)');
  });
});

describe('drillbook init', () => {
  const cases = [
    ['postgres', 'failover'],
    ['postgres', 'parallel-restore'],
    ['patroni', 'failover'],
    ['patroni', 'parallel-restore'],
    ['rds', 'failover'],
    ['rds', 'parallel-restore'],
    ['kubernetes', 'failover'],
    ['kubernetes', 'parallel-restore'],
    ['postgres', 'tabletop'],
    ['postgres', 'simulation'],
  ] as const;
  it.each(cases)('--driver %s --type %s writes a plan and a drill that validate', async (driver, type) => {
    const dir = path.join(work, `${driver}-${type}`);
    const result = await runCli(['init', '--driver', driver, '--type', type, '--dir', dir], { cwd: work });
    expect(result.code, result.stderr).toBe(0);
    const yamls = fs.readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    expect(yamls).toHaveLength(2);
    for (const f of yamls) expect(fs.readFileSync(path.join(dir, f), 'utf8').split('\n')[0]).toBe('# yaml-language-server: $schema=./drillbook.schema.json');
    const schema = JSON.parse(fs.readFileSync(path.join(dir, 'drillbook.schema.json'), 'utf8'));
    expect(schema.$defs.Scenario).toBeDefined();
    const drill = yamls.find((f) => f !== 'plan.yaml')!;
    expect(fs.readFileSync(path.join(dir, drill), 'utf8')).toMatch(new RegExp(`\\n  type: ${type}\\n`));
    const validated = await runCli(['validate', dir]);
    expect(validated.code, validated.stderr).toBe(0);
    expect(validated.stdout).toContain('2 files checked, 2 valid');
  });

  it('does not overwrite files without --force', async () => {
    const dir = path.join(work, 'postgres-failover');
    const before = fs.readFileSync(path.join(dir, 'plan.yaml'), 'utf8');
    fs.writeFileSync(path.join(dir, 'plan.yaml'), `${before}# my edit\n`);
    const result = await runCli(['init', '--dir', dir]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/already exist.*nothing was written/);
    expect(fs.readFileSync(path.join(dir, 'plan.yaml'), 'utf8')).toContain('# my edit');
  });

  it('the samples carry the schema line, and it points at the schema the build writes', () => {
    const samples = path.join(REPO_ROOT, 'scenarios', 'samples');
    for (const f of fs.readdirSync(samples).filter((n) => n.endsWith('.yaml'))) {
      const first = fs.readFileSync(path.join(samples, f), 'utf8').split('\n')[0]!;
      expect(first, f).toBe('# yaml-language-server: $schema=../../schema/drillbook.schema.json');
      const target = path.resolve(samples, first.split('$schema=')[1]!);
      expect(fs.existsSync(target), target).toBe(true);
    }
  });
});

describe('completion', () => {
  const complete = (script: string, words: string[]) =>
    execFileSync('bash', ['-c', `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _drillbook; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean);

  it('bash completes commands, sub-commands and options in a real bash', async () => {
    const { stdout: script, code } = await runCli(['completion', 'bash']);
    expect(code).toBe(0);
    expect(complete(script, ['drillbook', 'rem'])).toEqual(['remediation']);
    expect(complete(script, ['drillbook', 'remediation', 'ex'])).toEqual(['export']);
    expect(complete(script, ['drillbook', 'run', 'x.yaml', '--j'])).toEqual(['--json', '--junit']);
    expect(complete(script, ['drillbook', 'coverage', '--format', 'json', '--pl'])).toEqual(['--plan']);
    expect(complete(script, ['drillbook', 'coverage', '--metrics-'])).toEqual(['--metrics-file', '--metrics-push']);
  });

  it('zsh gets a #compdef script built on the same function', async () => {
    const { stdout, code } = await runCli(['completion', 'zsh']);
    expect(code).toBe(0);
    expect(stdout.split('\n')[0]).toBe('#compdef drillbook');
    expect(stdout).toContain('bashcompinit');
    expect(stdout).toContain('complete -o default -F _drillbook drillbook');
  });
});
