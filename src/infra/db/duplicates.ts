/** Prisma's unique-constraint violation (P2002): a row with the same key is already there. */
export const isDuplicateKey = (err: unknown): boolean => typeof err === 'object' && err !== null && (err as { code?: string }).code === 'P2002';

/** Runs a write that may lose an INSERT race with a copy of itself; false when the row was there. */
export async function ignoringDuplicates(write: () => Promise<unknown>): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    return false;
  }
}
