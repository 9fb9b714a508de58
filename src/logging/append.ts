import { fstatSync, ftruncateSync, readSync, writeSync } from 'node:fs';

/** An AppendFailure is the error of an append that wrote nothing, or whose partial line was cut back; torn when it could not be. */
export type AppendFailure = NodeJS.ErrnoException & { torn?: boolean };

/** APPEND_FLAGS opens a file for appendWhole: O_APPEND, and readable for the check of a cut. */
export const APPEND_FLAGS = 'a+';

/**
 * appendWhole appends whole lines to a file opened with APPEND_FLAGS, which several processes may
 * share: each write(2) lands at the end as one piece. When the disk fills in the middle of the
 * bytes (a partial write, then ENOSPC), the part that went in is cut back, if the file still
 * ends with it (nobody appended since: on a full disk nobody can), so that no torn line stays.
 * Throws the write's error, with torn set when the part could not be cut back.
 */
export function appendWhole(fd: number, bytes: Buffer): void {
  let written = 0;
  try {
    while (written < bytes.length) written += writeSync(fd, bytes, written);
  } catch (error) {
    if (written > 0 && !cutBack(fd, bytes.subarray(0, written))) (error as AppendFailure).torn = true;
    throw error;
  }
}

/** cutBack removes `part` from the end of the file if the file ends with exactly those bytes. */
function cutBack(fd: number, part: Buffer): boolean {
  try {
    const end = fstatSync(fd).size;
    if (end < part.length) return false;
    const tail = Buffer.alloc(part.length);
    if (readSync(fd, tail, 0, part.length, end - part.length) !== part.length || !tail.equals(part)) return false;
    ftruncateSync(fd, end - part.length);
    return true;
  } catch {
    return false;
  }
}
