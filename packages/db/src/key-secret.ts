/**
 * The checked copy of a key's secret, for the keys the app holds (binding, login): a positive id
 * and 32 to 64 bytes, which is what HMAC-SHA256 wants of a key.
 */
export function keySecret(kind: string, id: number, secret: Uint8Array): Buffer {
  if (!Number.isInteger(id) || id < 1) throw new RangeError(`a ${kind} key id is a positive integer, but got: ${id}`);
  if (secret.length < 32 || secret.length > 64) {
    throw new RangeError(`a ${kind} key secret has 32 to 64 bytes, but got: ${secret.length}`);
  }
  return Buffer.from(secret);
}
