/**
 * A MySQL DATETIME(3) literal in UTC, for raw SQL (the Prisma adapter's sessions run with
 * time_zone +00:00, so it means the same instant Prisma's own DateTime writes do).
 */
export function sqlTime(time: Date | number): string;
export function sqlTime(time: Date | number | null): string | null;
export function sqlTime(time: Date | number | null): string | null {
  if (time === null) return null;
  return (typeof time === 'number' ? new Date(time) : time).toISOString().slice(0, 23).replace('T', ' ');
}
