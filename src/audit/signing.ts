import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { canonicalJson } from './chain.js';

/** The Ed25519 key that signs audit checkpoints. */
export interface SigningKey {
  privateKey: KeyObject;
  /** SPKI PEM. */
  publicKeyPem: string;
  /** First 16 hex digits of the SHA-256 of the public key. */
  keyId: string;
}

export function publicKeyId(publicKeyPem: string): string {
  return createHash('sha256').update(publicKeyPem).digest('hex').slice(0, 16);
}

function fromPrivate(privateKey: KeyObject): SigningKey {
  const publicKeyPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
  return { privateKey, publicKeyPem, keyId: publicKeyId(publicKeyPem) };
}

/** A new key in memory (tests, or before it is written at install). */
export function generateSigningKey(): SigningKey {
  return fromPrivate(generateKeyPairSync('ed25519').privateKey);
}

/** Reads the key from `file`, creating it (mode 0600) when `create` is set and it does not exist. */
export function loadSigningKey(file: string, create: boolean): SigningKey | null {
  if (existsSync(file)) return fromPrivate(createPrivateKey(readFileSync(file)));
  if (!create) return null;
  const key = generateSigningKey();
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, key.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  return key;
}

/** What a checkpoint signature covers. */
export interface CheckpointPayload {
  seq: number;
  hash: string;
  signedAt: string;
  keyId: string;
}

export function signCheckpoint(key: SigningKey, payload: CheckpointPayload): string {
  return sign(null, Buffer.from(canonicalJson(payload)), key.privateKey).toString('base64');
}

export function verifyCheckpoint(publicKeyPem: string, payload: CheckpointPayload, signature: string): boolean {
  try {
    return verify(null, Buffer.from(canonicalJson(payload)), createPublicKey(publicKeyPem), Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}
