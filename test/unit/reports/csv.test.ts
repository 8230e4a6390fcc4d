import { describe, expect, it } from 'vitest';
import { csvLine, csvText } from '../../../reports/csv.js';
import { parseCsv } from '../../../reports/evidence-files.js';

describe('the one CSV writer', () => {
  it('ends every record with CRLF and reads back to the same cells, line breaks and quotes included', () => {
    const rows = [
      ['plain', 'a,b', 'say "hi"', 'lone\nLF', 'lone\rCR', 'both\r\nCRLF', ''],
      ['second', 'é', ' padded ', 'x', 'y', 'z', 'last'],
    ];
    const text = csvText(rows, { escapeFormulas: false });
    expect(text.endsWith('\r\n')).toBe(true);
    expect(text.endsWith('"both\r\nCRLF",\r\nsecond,é, padded ,x,y,z,last\r\n')).toBe(true);
    expect(text).toContain('"lone\nLF","lone\rCR"');
    const records = parseCsv(text.split('\r\n').join('\n'));
    expect(records).toHaveLength(2);
    expect(records[1]).toEqual(rows[1]);
    expect(records[0]).toEqual(['plain', 'a,b', 'say "hi"', 'lone\nLF', 'lone\rCR', 'both\nCRLF', '']);
  });

  it('prefixes formula-like text with an apostrophe, but not numbers', () => {
    expect(csvLine(['=SUM(A1)', '+1', '-x', '@cmd', '\tcmd', '\rcmd', 'safe'])).toBe(`'=SUM(A1),'+1,'-x,'@cmd,'\tcmd,"'\rcmd",safe`);
    expect(csvLine([-3.5, 0, 12])).toBe('-3.5,0,12');
    expect(csvLine(['=raw'], { escapeFormulas: false })).toBe('=raw');
  });
});
