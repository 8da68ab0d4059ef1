// Credential check for socks5 userpass and http_proxy basic auth. Both sides
// are hashed to 32 bytes and compared with timingSafeEqual, and unknown users
// are checked against a dummy hash, so timing reveals neither the password
// nor whether the user exists.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { UserEntry } from './schema';

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();
const DUMMY = sha256('imgate-no-such-user');

export class UserDb {
  private readonly hashes = new Map<string, Buffer>();

  constructor(users: readonly UserEntry[]) {
    for (const u of users) {
      this.hashes.set(u.name, u.password_sha256 ? Buffer.from(u.password_sha256, 'hex') : sha256(u.password ?? ''));
    }
  }

  get size(): number {
    return this.hashes.size;
  }

  verify(user: string, password: string): boolean {
    const want = this.hashes.get(user);
    const ok = timingSafeEqual(sha256(password), want ?? DUMMY);
    return ok && want !== undefined;
  }
}
