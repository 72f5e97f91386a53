import { errors } from './errors.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The database id inside a decoded global id; anything but a UUID is refused before any SQL. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

export function databaseId(globalId: { id: string; typename: string }): string {
  if (!isUuid(globalId.id)) throw errors.badInput(`"${globalId.typename}" ids carry a UUID`);
  return globalId.id.toLowerCase();
}

/** A page size between 1 and `max`; larger requests are refused, not silently cut. */
export function pageSize(argument: string, value: number | null | undefined, fallback: number, max: number): number {
  const size = value ?? fallback;
  if (!Number.isInteger(size) || size < 0 || size > max) {
    throw errors.badInput(`${argument} must be between 0 and ${max}`);
  }
  return size;
}

// Control characters other than tab and line breaks; Postgres would refuse NUL with a server error.
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/** Trimmed text of bounded length, refused with a message that names the argument. */
export function text(argument: string, value: string, max: number): string {
  const trimmed = value.trim();
  if (trimmed.length === 0 || trimmed.length > max) {
    throw errors.badInput(`${argument} must have 1 to ${max} characters`);
  }
  if (CONTROL.test(trimmed)) throw errors.badInput(`${argument} must not contain control characters`);
  return trimmed;
}
