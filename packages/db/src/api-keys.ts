import { createHash, randomBytes } from 'node:crypto';

const KEY_PREFIX = 'tak_';

/** A new API key: 192 random bits, so a plain SHA-256 is a safe way to store it. */
export function generateApiKey(): { key: string; prefix: string; hash: string } {
  const key = KEY_PREFIX + randomBytes(24).toString('base64url');
  return { key, prefix: key.slice(0, KEY_PREFIX.length + 6), hash: hashApiKey(key) };
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** Cheap shape check, so that garbage in `Authorization` never reaches the database. */
export function looksLikeApiKey(value: string): boolean {
  return /^tak_[A-Za-z0-9_-]{32}$/.test(value);
}
