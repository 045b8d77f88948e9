import { join } from 'node:path';
import { Eta } from 'eta';
import type { ReviewBoard } from '../../domain/console/review-board.js';
import type { SaleFigures } from '../../domain/console/sale-figures.js';
import { latenessChart, round, timerChart } from './charts.js';

/**
 * The console's HTML, rendered by Eta templates in ./templates (auto-escaped `<%= %>`; `<%~ %>`
 * only for the SVG charts built in charts.ts and for partials). Templates are compiled once and
 * cached; they hold layout only: every figure comes from the domain's read models.
 */
const eta = new Eta({ views: join(import.meta.dirname, 'templates'), cache: true, autoEscape: true });

/** What the templates may call: formatting, nothing that decides. */
const fmt = {
  money: (fen: number) => `¥${(fen / 100).toFixed(2)}`,
  /** HH:MM:SS UTC of an ISO time */
  time: (iso: string) => iso.slice(11, 19),
  dateTime: (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 19)}`,
  /** "in 1m 58s" / "3s ago" */
  relative: (iso: string, now: number) => {
    const ms = Date.parse(iso) - now;
    const s = Math.round(Math.abs(ms) / 1000);
    const text = s >= 60 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${s}s`;
    return ms >= 0 ? `in ${text}` : `${text} ago`;
  },
  seconds: (value: number | null) => (value === null ? '—' : `${round(value)} s`),
  count: (value: number | null) => (value === null ? '—' : String(value)),
  timerChart,
  latenessChart,
};

export interface Notice {
  kind: 'resolved' | 'retried';
  orderId: string;
  outcome?: string;
  status?: string;
}

export interface PageData {
  goods: SaleFigures[];
  reviews: ReviewBoard;
  csrf: string;
  notice?: Notice;
  /** an action that was refused, with why: nothing was changed */
  error?: { title: string; message: string };
  links: { bullBoard: string; docs: string; metrics: string; ready: string };
  refreshMs: number;
}

export const renderPage = (data: PageData) => eta.render('page', { ...data, fmt, now: Date.now() });
export const renderGoods = (goods: SaleFigures[]) => eta.render('goods', { goods, fmt, now: Date.now() });
export const renderReviews = (reviews: ReviewBoard, csrf: string) => eta.render('reviews', { reviews, csrf, fmt, now: Date.now() });
export const renderRefusal = (status: number, title: string, message: string) => eta.render('refusal', { status, title, message });
