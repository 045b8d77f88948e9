import type { CloseLateness } from '../../domain/console/close-lateness.js';
import type { TimerSchedule } from '../../domain/console/timer-schedule.js';

/**
 * Small inline SVG bar charts, drawn on the server: no chart library and no script, and they
 * survive the page's strict Content-Security-Policy (presentation attributes only, no `style`).
 * Every text is escaped; every number is a number.
 */

const WIDTH = 360;
const HEIGHT = 90;
const AXIS = 14; // room for the labels under the bars

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

interface Bar {
  value: number;
  tip: string;
  tone: 'due' | 'pending' | 'late';
}

/** `scale` writes the tallest bar's value at the top left (bars start at 0). */
function barChart(label: string, bars: Bar[], left: string, right: string, scale: (top: number) => string): string {
  const top = Math.max(0, ...bars.map((b) => b.value)) || 1;
  const plot = HEIGHT - AXIS;
  const step = bars.length === 0 ? WIDTH : WIDTH / bars.length;
  const gap = step > 6 ? 2 : 0;
  const rects = bars
    .map((bar, i) => {
      const h = bar.value === 0 ? 0 : Math.max(2, (bar.value / top) * (plot - 12));
      return `<rect class="bar ${bar.tone}" x="${(i * step + gap / 2).toFixed(1)}" y="${(plot - h).toFixed(1)}" width="${Math.max(1, step - gap).toFixed(1)}" height="${h.toFixed(1)}"><title>${escapeXml(bar.tip)}</title></rect>`;
    })
    .join('');
  return [
    `<svg class="chart" role="img" aria-label="${escapeXml(label)}" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" xmlns="http://www.w3.org/2000/svg">`,
    `<line class="axis" x1="0" y1="${plot}" x2="${WIDTH}" y2="${plot}"/>`,
    bars.length === 0 ? '' : `<text class="tick" x="0" y="10">${escapeXml(scale(top))}</text>`,
    rects,
    `<text class="tick" x="0" y="${HEIGHT - 2}">${escapeXml(left)}</text>`,
    `<text class="tick" x="${WIDTH}" y="${HEIGHT - 2}" text-anchor="end">${escapeXml(right)}</text>`,
    bars.length === 0 ? `<text class="empty" x="${WIDTH / 2}" y="${plot / 2}" text-anchor="middle">none</text>` : '',
    '</svg>',
  ].join('');
}

const hhmm = (iso: string) => iso.slice(11, 16);

/** Pending close timers by due minute (UTC), the ones already due first. */
export function timerChart(t: TimerSchedule): string {
  const bars: Bar[] = [
    ...(t.due > 0 ? [{ value: t.due, tip: `${t.due} due, closing now`, tone: 'due' as const }] : []),
    ...t.byMinute.map((b, i) => ({ value: b.count, tip: `${b.count} due ${hhmm(b.minute)}${i === t.byMinute.length - 1 && i > 0 ? ' or later' : ''} UTC`, tone: 'pending' as const })),
  ];
  const first = t.byMinute[0];
  const last = t.byMinute.at(-1);
  return barChart('pending close timers by due minute', bars, t.due > 0 ? 'due' : first ? hhmm(first.minute) : '', last ? `${hhmm(last.minute)} UTC` : '', (top) => `${top} timer${top === 1 ? '' : 's'}`);
}

/** Lateness of the latest timeout closes, oldest left. */
export function latenessChart(l: CloseLateness): string {
  const bars = l.samples.map((s) => ({ value: round(s.seconds), tip: `order ${s.orderId}: closed ${round(s.seconds)} s after its deadline (${hhmm(s.closedAt)} UTC)`, tone: 'late' as const }));
  const first = l.samples[0];
  const last = l.samples.at(-1);
  return barChart('close lateness of recent timeout closes, seconds', bars, first ? hhmm(first.closedAt) : '', last ? `${hhmm(last.closedAt)} UTC` : '', (top) => `${top} s`);
}

export const round = (seconds: number) => Math.round(seconds * 100) / 100;
