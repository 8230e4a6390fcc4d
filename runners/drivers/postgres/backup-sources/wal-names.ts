/**
 * WAL file names by arithmetic, for sources that cannot list their archive (command): every
 * segment from the backup's start segment up to the newest one production's archiver had
 * reported archived at T0, on each timeline from the backup's to production's, and the
 * timeline history files up to production's timeline. A name is TTTTTTTT LLLLLLLL SSSSSSSS
 * (timeline, log, segment within the log), 4 GiB of WAL per log.
 */

const SEGMENT = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/;

function parts(name: string, segmentBytes: number): { timeline: number; segno: bigint } {
  const match = SEGMENT.exec(name);
  if (!match) throw new Error(`${name} is not a WAL segment name`);
  const perLog = BigInt(0x1_0000_0000 / segmentBytes);
  return { timeline: parseInt(match[1]!, 16), segno: BigInt(parseInt(match[2]!, 16)) * perLog + BigInt(parseInt(match[3]!, 16)) };
}

function nameOf(timeline: number, segno: bigint, segmentBytes: number): string {
  const perLog = BigInt(0x1_0000_0000 / segmentBytes);
  const hex = (n: bigint | number) => n.toString(16).toUpperCase().padStart(8, '0');
  return `${hex(timeline)}${hex(segno / perLog)}${hex(segno % perLog)}`;
}

/** The segment a backup_label `START WAL LOCATION: 0/2000028 (file 000000010000000000000002)` names. */
export function startSegmentOf(startWal: string | null): string | null {
  return startWal ? (/\(file ([0-9A-F]{24})\)/.exec(startWal)?.[1] ?? null) : null;
}

/** Every name recovery may ask for, from `start` through `newest` (inclusive), with the history files. */
export function walNamesThrough(start: string, newest: string, segmentBytes: number): string[] {
  const from = parts(start, segmentBytes);
  const to = parts(newest, segmentBytes);
  if (to.segno < from.segno || to.timeline < from.timeline) return [];
  const names: string[] = [];
  for (let timeline = from.timeline; timeline <= to.timeline; timeline++) {
    if (timeline > 1) names.push(`${timeline.toString(16).toUpperCase().padStart(8, '0')}.history`);
    for (let segno = from.segno; segno <= to.segno; segno++) names.push(nameOf(timeline, segno, segmentBytes));
  }
  return names;
}
