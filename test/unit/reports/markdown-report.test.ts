/**
 * report.md (finding 11): user text is escaped as Markdown, not as HTML entities, and no
 * link, reference definition, autolink or raw HTML from user text survives. The file is
 * rendered by two independent Markdown implementations (marked with GFM, markdown-it) and
 * the resulting HTML is searched for anchors and `javascript:`.
 */
import MarkdownIt from 'markdown-it';
import { marked } from 'marked';
import { describe, expect, it } from 'vitest';
import { renderMarkdown } from '../../../reports/render.js';
import { markdownInline } from '../../../reports/report-text.js';
import type { RunRecord } from '../../../reports/run-record.js';
import { makeProbes, makeRunRecord } from '../../helpers/run-record-fixture.js';

const HOSTILE = [
  '[click](javascript:alert(1))',
  '[x]: javascript:alert(2)',
  '<javascript:alert(3)>',
  '<https://evil.example/a>',
  'https://evil.example/b',
  'www.evil.example',
  'mallory@evil.example',
  '<a href="javascript:alert(4)">a</a>',
  '![img](javascript:alert(5))',
  '[ref][x]',
  '&#106;avascript:alert(6)',
  '| broken | table |',
  '# heading',
  '`code` **bold** _em_ ~~strike~~',
];

function hostileRecord(): RunRecord {
  const text = HOSTILE.join(' ');
  return makeRunRecord({
    environment: `primary's ${text}`,
    objective: `Objective ${text}`,
    scope: text,
    rationale: { threat: `[x]: javascript:alert(7)`, likelihood: 'high', impact: 'high', notes: text },
    participants: [{ name: '[x]: javascript:alert(8)', role: text, present: true }],
    observations: { strengths: ['[x]: javascript:alert(9)', text], improvements: ['- [x]: javascript:alert(10)', `1. ${text}`] },
    findings: [{ id: 'F-1', title: text, kind: 'improvement', severity: 'P3', detail: `primary's ${text}` }],
    checks: [{ name: text, type: 'sql', passed: false, expected: text, actual: text }],
  });
}

/** Anchors and URLs in rendered HTML, and the text with tags removed. */
function inspect(html: string): { anchors: string[]; javascript: boolean; images: number; rawTags: string[] } {
  return {
    anchors: [...html.matchAll(/<a\s[^>]*>/gi)].map((m) => m[0]),
    javascript: /javascript:/i.test([...html.matchAll(/(?:href|src)\s*=\s*"([^"]*)"/gi)].map((m) => m[1]).join(' ')),
    images: [...html.matchAll(/<img\b/gi)].length,
    rawTags: [...html.matchAll(/<(?!\/?(?:h[1-6]|p|table|thead|tbody|tr|th|td|ul|ol|li|strong|em|code|blockquote|br|hr)\b)[a-z][^>]*>/gi)].map((m) => m[0]),
  };
}

describe('report.md', () => {
  const md = renderMarkdown(hostileRecord(), { probes: makeProbes(), integrity: { runJsonSha256: 'a'.repeat(64), timelineSha256: 'b'.repeat(64), probesSha256: 'c'.repeat(64) } });

  it('keeps apostrophes and other plain text as written, without HTML entities', () => {
    expect(md).toContain("primary's");
    expect(md).not.toMatch(/&#x27;|&#39;|&quot;|&lt;|&gt;|&amp;/);
  });

  it('has no reference definition line from user text', () => {
    // A definition is a line starting (after up to 3 spaces, or a list/quote marker) with `[label]:`.
    for (const line of md.split('\n')) expect(line, line).not.toMatch(/^\s{0,3}(?:[-*+>]\s+|\d+[.)]\s+)*\[[^\]]+\]:/);
  });

  for (const [name, render] of [
    ['marked (GFM)', (text: string) => marked.parse(text, { async: false, gfm: true }) as string],
    ['markdown-it', (text: string) => new MarkdownIt().render(text)],
    ['markdown-it (html allowed)', (text: string) => new MarkdownIt({ html: true }).render(text)],
  ] as const) {
    it(`renders with ${name} to HTML with no anchor, javascript: URL, image or raw HTML from user text`, () => {
      const html = render(md);
      const found = inspect(html);
      expect(found.anchors).toEqual([]);
      expect(found.javascript).toBe(false);
      expect(found.images).toBe(0);
      expect(found.rawTags).toEqual([]);
      // The text itself is all there, escaped characters shown as themselves.
      const decoded = html.replace(/&#39;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
      expect(decoded).toContain("primary's");
      expect(decoded).toContain('[click](javascript:alert(1))');
      expect(decoded).toContain('<a href="javascript:alert(4)">a</a>');
    });
  }

  it('escapes the inline constructs and nothing a reader would notice', () => {
    expect(markdownInline("the primary's RTO (2026-11-20, v2.1)")).toBe("the primary's RTO (2026-11-20, v2.1)");
    expect(markdownInline('a|b\nc')).toBe('a\\|b c');
    expect(markdownInline('# x')).toBe('\\# x');
    expect(markdownInline('[x]: y')).toBe('\\[x\\]: y');
  });
});
