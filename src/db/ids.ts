import { randomBytes } from 'node:crypto';

// Letters and digits that cannot be misread for one another (no l, o, 0, 1).
const ID_ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789';
const ID_LENGTH = 12;

/** `length` random characters of the unambiguous alphabet. */
export function randomId(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += ID_ALPHABET[b % ID_ALPHABET.length];
  return out;
}

/**
 * A new object id such as `team_k3x9…`: the prefix names the kind of object.
 *
 * @example
 * newId('run'); // 'run_7hq2mxk4c9ta'
 */
export function newId(prefix: string): string {
  return `${prefix}_${randomId(ID_LENGTH)}`;
}
