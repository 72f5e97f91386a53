import { createRemoteJWKSet, errors as jose, jwtVerify, type JWTVerifyGetKey } from 'jose';

/** How the API verifies `Authorization: Bearer <JWT>`; without it, JWTs are refused. */
export type JwtOptions = (
  | {
      /** The HS256 shared secret, at least 32 bytes (RFC 7518 §3.2). */
      secret: string;
    }
  | {
      /** Where the issuer publishes its public keys; RS256 and ES256 tokens are verified with them. */
      jwksUrl: string;
      /**
       * The least time between two fetches of the key set: a token whose `kid` is not in the cached
       * set triggers a refetch (the issuer rotated its keys), at most this often. @default 30000
       */
      jwksCooldownMs?: number;
    }
) & {
  /** The `iss` every token must carry. */
  issuer: string;
  /** The `aud` every token must name. */
  audience: string;
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * What jose throws for a token that is not valid. Anything else, a key set that cannot be fetched
 * or parsed above all, is the server's failure.
 */
const INVALID_TOKEN = [
  jose.JWTExpired,
  jose.JWTClaimValidationFailed,
  jose.JWTInvalid,
  jose.JWSInvalid,
  jose.JWSSignatureVerificationFailed,
  jose.JOSEAlgNotAllowed,
  jose.JOSENotSupported,
  jose.JWKSNoMatchingKey,
  // A token without a `kid` when several published keys could have signed it: it names none.
  jose.JWKSMultipleMatchingKeys,
];

/**
 * Verifies JWTs and returns their subject, the user id. Only the algorithms of the configured key
 * kind are accepted, so neither `alg: none` nor an HS256 token signed with a published RS256 key
 * gets through; `exp` is required, `nbf` is checked when present.
 */
export class JwtVerifier {
  readonly #key: JWTVerifyGetKey;
  readonly #algorithms: string[];
  readonly #issuer: string;
  readonly #audience: string;

  constructor(options: JwtOptions) {
    if ('secret' in options) {
      const secret = new TextEncoder().encode(options.secret);
      if (secret.byteLength < 32) throw new RangeError(`JwtOptions.secret must be at least 32 bytes, but got ${secret.byteLength}`);
      this.#key = () => secret;
      this.#algorithms = ['HS256'];
    } else {
      this.#key = createRemoteJWKSet(new URL(options.jwksUrl), { cooldownDuration: options.jwksCooldownMs ?? 30_000 });
      this.#algorithms = ['RS256', 'ES256'];
    }
    this.#issuer = options.issuer;
    this.#audience = options.audience;
  }

  /**
   * The user id a valid token is about, or undefined for a token that is not valid (bad signature,
   * expired, not yet valid, wrong issuer, audience or algorithm, malformed, subject not a user id).
   * Throws when the key set cannot be fetched: that is the server's failure, not the caller's.
   */
  async verify(token: string): Promise<string | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.#key, {
        algorithms: this.#algorithms,
        issuer: this.#issuer,
        audience: this.#audience,
        requiredClaims: ['exp', 'sub'],
      });
      return typeof payload.sub === 'string' && UUID.test(payload.sub) ? payload.sub.toLowerCase() : undefined;
    } catch (error) {
      if (INVALID_TOKEN.some((kind) => error instanceof kind)) return undefined;
      throw error;
    }
  }
}
