import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { randomId } from '../db/index.js';

/** Every Tarmac API key starts with this, so secret scanners and people recognise it. */
export const KEY_PREFIX = 'tmk_';
// A key's public id: as long as an object id's random part.
const ID_LENGTH = 12;

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** A new key: its public id, the full token shown once, and the hash that is stored. */
export function generateKey(): { id: string; token: string; secretHash: string } {
  const id = randomId(ID_LENGTH);
  const secret = randomBytes(32).toString('base64url');
  return { id, token: `${KEY_PREFIX}${id}_${secret}`, secretHash: hashSecret(secret) };
}

/** Splits a token into id and secret, or null when it is not shaped like a Tarmac key. */
export function parseKey(token: string): { id: string; secret: string } | null {
  if (!token.startsWith(KEY_PREFIX) || token.length !== KEY_PREFIX.length + ID_LENGTH + 1 + 43) return null;
  const id = token.slice(KEY_PREFIX.length, KEY_PREFIX.length + ID_LENGTH);
  if (token[KEY_PREFIX.length + ID_LENGTH] !== '_') return null;
  const secret = token.slice(KEY_PREFIX.length + ID_LENGTH + 1);
  if (!/^[a-z2-9]+$/.test(id) || !/^[A-Za-z0-9_-]+$/.test(secret)) return null;
  return { id, secret };
}

export function secretMatches(secret: string, storedHash: string): boolean {
  const a = Buffer.from(hashSecret(secret), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
