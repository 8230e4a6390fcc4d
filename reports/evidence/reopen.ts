/**
 * Reopen the bundle of a run that was killed, for `drillbook recover` and `run --resume`.
 */
import { readFile, truncate } from 'node:fs/promises';
import path from 'node:path';
import {
  ATTACHMENTS_DIR,
  EvidenceError,
  MANIFEST_FILE,
  PROBES_CSV_HEADER,
  PROBES_FILE,
  TIMELINE_FILE,
  listFilesRecursive,
  parseProbesCsv,
  parseTimelineJsonl,
  pathExists,
  writeFileAtomic,
} from '../evidence-files.js';
import type { ProbeAttempt, TimelineEvent } from '../run-record.js';
import { RunBundle, attachBundle, removeTempFiles, type BundleClass, type BundleOptions } from './bundle.js';

export interface ExistingBundle<B extends RunBundle = RunBundle> {
  bundle: B;
  timeline: TimelineEvent[];
  probes: ProbeAttempt[];
  attachments: string[];
  /**
   * Incomplete last lines cut off by the kill (a write in flight), removed so appends can
   * continue. Worth a timeline event in the recovered record.
   */
  discardedFragments: { file: string; text: string }[];
}

/**
 * Reopen the bundle of a run that was killed, for `drillbook recover`: what was measured so
 * far, and a bundle to append to and finalize once the RunRecord is completed.
 */
export async function openExistingBundle<B extends RunBundle = RunBundle>(
  runDir: string,
  options: BundleOptions = {},
  bundleClass: BundleClass<B> = RunBundle as unknown as BundleClass<B>,
): Promise<ExistingBundle<B>> {
  const dir = path.resolve(runDir);
  if (await pathExists(path.join(dir, MANIFEST_FILE))) {
    throw new EvidenceError(`${dir} is already finalized (it has a ${MANIFEST_FILE})`);
  }
  const timelineFile = path.join(dir, TIMELINE_FILE);
  const probesFile = path.join(dir, PROBES_FILE);
  if (!(await pathExists(timelineFile))) {
    throw new EvidenceError(`${timelineFile} not found: is ${dir} a drillbook run directory?`);
  }
  if (!(await pathExists(probesFile))) await writeFileAtomic(probesFile, `${PROBES_CSV_HEADER}\n`);
  await removeTempFiles(dir);

  const discardedFragments: ExistingBundle['discardedFragments'] = [];
  const timelineText = await cutIncompleteLastLine(timelineFile, discardedFragments);
  let probesText = await cutIncompleteLastLine(probesFile, discardedFragments);
  if (probesText === '') {
    // Killed before even the header reached the disk.
    await writeFileAtomic(probesFile, `${PROBES_CSV_HEADER}\n`);
    probesText = `${PROBES_CSV_HEADER}\n`;
  }
  const attachmentsDir = path.join(dir, ATTACHMENTS_DIR);
  const attachments = (await pathExists(attachmentsDir))
    ? (await listFilesRecursive(attachmentsDir)).map((name) => `${ATTACHMENTS_DIR}/${name}`)
    : [];
  return {
    bundle: await attachBundle(bundleClass, path.dirname(dir), dir, options),
    timeline: parseTimelineJsonl(timelineText, timelineFile),
    probes: parseProbesCsv(probesText, probesFile),
    attachments,
    discardedFragments,
  };
}

/** Returns the file's complete lines, truncating a torn last line (recorded in `discarded`). */
async function cutIncompleteLastLine(file: string, discarded: ExistingBundle['discardedFragments']): Promise<string> {
  const text = await readFile(file, 'utf8');
  if (text === '' || text.endsWith('\n')) return text;
  const keep = text.slice(0, text.lastIndexOf('\n') + 1);
  discarded.push({ file: path.basename(file), text: text.slice(keep.length) });
  await truncate(file, Buffer.byteLength(keep));
  return keep;
}

