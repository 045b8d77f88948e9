/**
 * Yuan as WeChat's bill writes them ("0.01", "12.3", "100") to integer fen, exactly: digits are
 * read as text, never through a float (0.29 * 100 is 28.999999999999996 in binary floating point).
 * More than two decimals, a sign or anything else is refused: a bill amount we cannot read
 * exactly is a bill we cannot reconcile.
 */
const YUAN = /^(0|[1-9][0-9]{0,12})(?:\.([0-9]{1,2}))?$/;

export function yuanToFen(text: string): number | undefined {
  const m = YUAN.exec(text);
  if (!m) return undefined;
  const cents = (m[2] ?? '').padEnd(2, '0');
  return Number(m[1]) * 100 + Number(cents);
}

/** Fen as yuan with two decimals, for messages and for the sandbox's bills. */
export function fenToYuan(fen: number): string {
  const sign = fen < 0 ? '-' : '';
  const abs = Math.abs(fen);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}
