import { describe, expect, it } from 'vitest';
import { escapeXml, latenessChart, timerChart } from './charts.js';

describe('console charts', () => {
  it('draws one bar per minute, the due ones first, scaled to the tallest', () => {
    const svg = timerChart({
      due: 2,
      byMinute: [
        { minute: '2026-12-02T05:48:00.000Z', count: 4 },
        { minute: '2026-12-02T05:49:00.000Z', count: 0 },
        { minute: '2026-12-02T05:50:00.000Z', count: 1 },
      ],
      next: [],
    });
    const heights = [...svg.matchAll(/<rect class="bar (\w+)"[^>]* height="([\d.]+)"/g)].map((m) => [m[1], Number(m[2])]);
    expect(heights.map(([tone]) => tone)).toEqual(['due', 'pending', 'pending', 'pending']);
    const [due, four, zero, one] = heights.map(([, h]) => h as number);
    expect(four).toBeGreaterThan(due!);
    expect(zero).toBe(0);
    expect(one! * 4).toBeCloseTo(four!, 0);
    expect(svg).toContain('>4 timers<');
    expect(svg).toContain('05:50 or later UTC');
    // the page's Content-Security-Policy allows no inline style
    expect(svg).not.toContain('style=');
  });

  it('escapes every text it writes and says so when there is nothing to draw', () => {
    expect(escapeXml(`<a href="x">'&'</a>`)).toBe('&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;');
    const svg = latenessChart({ samples: [{ orderId: '<script>', closedAt: '2026-12-02T05:48:00.000Z', seconds: 0.25 }], p50: 0.25, p95: 0.25, max: 0.25 });
    expect(svg).not.toContain('<script>');
    expect(svg).toContain('order &#60;script&#62;: closed 0.25 s after its deadline');
    expect(latenessChart({ samples: [], p50: null, p95: null, max: null })).toContain('>none<');
  });
});
