import bcrypt from 'bcryptjs';
import { randomBytes } from 'node:crypto';

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** verify compares against the stored hash, or against a dummy one when there is none, so both paths take the same time. */
  verify(password: string, hash: string | undefined): Promise<boolean>;
}

/** createPasswordHasher hashes with bcrypt at the given cost. */
export function createPasswordHasher(rounds: number): PasswordHasher {
  let dummy: Promise<string> | undefined;
  const dummyHash = () => (dummy ??= bcrypt.hash(randomBytes(16).toString('hex'), rounds));
  return {
    hash: (password) => bcrypt.hash(password, rounds),
    async verify(password, hash) {
      const matches = await bcrypt.compare(password, hash ?? (await dummyHash()));
      return hash !== undefined && matches;
    },
  };
}
