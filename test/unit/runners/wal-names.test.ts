import { describe, expect, it } from 'vitest';
import { archivedThrough, archiveProblem, segmentOf } from '../../../runners/drivers/postgres/archive-cycle.js';
import { startSegmentOf, walNamesThrough } from '../../../runners/drivers/postgres/backup-sources/wal-names.js';

const MB16 = 16 * 1024 * 1024;

describe('WAL names a command source may fetch (the archive as production reported it at T0)', () => {
  it('lists every segment from the backup start through the newest archived, crossing a log boundary', () => {
    const names = walNamesThrough('0000000100000000000000FE', '000000010000000100000001', MB16);
    expect(names).toEqual(['0000000100000000000000FE', '0000000100000000000000FF', '000000010000000100000000', '000000010000000100000001']);
  });

  it('uses the segment size: 64 MB segments have 64 per 4 GiB log', () => {
    expect(walNamesThrough('00000001000000000000003F', '000000010000000100000000', 64 * 1024 * 1024)).toEqual(['00000001000000000000003F', '000000010000000100000000']);
  });

  it('adds the history files and the later timeline when production switched timelines, and nothing newer', () => {
    const names = walNamesThrough('000000010000000000000003', '000000020000000000000004', MB16);
    expect(names).toEqual(['000000010000000000000003', '000000010000000000000004', '00000002.history', '000000020000000000000003', '000000020000000000000004']);
    expect(names).not.toContain('00000003.history');
    expect(names).not.toContain('000000020000000000000005');
  });

  it('lists nothing when the archive had not reached the backup, and reads backup_label', () => {
    expect(walNamesThrough('000000010000000000000005', '000000010000000000000004', MB16)).toEqual([]);
    expect(startSegmentOf('0/5000028 (file 000000010000000000000005)')).toBe('000000010000000000000005');
    expect(startSegmentOf(null)).toBeNull();
  });
});

describe('whether the archiver has reported a segment archived', () => {
  it('compares by timeline, then position; .partial and .backup names count by their segment; history files do not', () => {
    expect(archivedThrough('000000010000000000000005', '000000010000000000000005')).toBe(true);
    expect(archivedThrough('000000010000000000000004', '000000010000000000000005')).toBe(false);
    expect(archivedThrough('00000001000000000000000A', '000000010000000000000009')).toBe(true);
    expect(archivedThrough('000000020000000000000001', '000000010000000000000009')).toBe(true);
    expect(archivedThrough('000000010000000000000005.00000028.backup', '000000010000000000000005')).toBe(true);
    expect(archivedThrough('00000002.history', '000000010000000000000005')).toBe(false);
    expect(archivedThrough(null, '000000010000000000000005')).toBe(false);
    expect(segmentOf('00000002.history')).toBeNull();
  });

  it('says why the RPO would stay not established', () => {
    expect(archiveProblem({ archiveMode: 'off', archiver: 'none', archiveTimeoutSeconds: 60 })).toMatch(/does not archive/);
    expect(archiveProblem({ archiveMode: 'on', archiver: 'archive_command', archiveTimeoutSeconds: 0 })).toMatch(/archive_timeout is 0/);
    expect(archiveProblem({ archiveMode: 'on', archiver: 'pgBackRest archive-push', archiveTimeoutSeconds: 60 })).toBeNull();
  });
});
