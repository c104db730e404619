import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ValidationError } from '@tenantfold/core';

/** A sort value as SQLite returns it (state values come out as numbers, text or NULL). */
export type SortValue = string | number | null;

/** Where a page ended: the last row's sort values and id. */
export interface CursorPosition {
  readonly values: readonly SortValue[];
  readonly id: string;
}

/** What a cursor is valid for: the same tenant, type, filter and sort. */
export interface CursorBinding {
  readonly tenant: string;
  readonly type: string;
  /** The canonical filter text (`formatFilter`). */
  readonly filter: string;
  /** The canonical sort text (`formatSort`). */
  readonly sort: string;
}

const MAC_BYTES = 16;

function invalid(reason: string): ValidationError {
  return new ValidationError(
    `invalid cursor: ${reason}; a cursor is only valid for the tenant, type, filter and sort of the page that returned it`,
    'cursor',
  );
}

/**
 * Opaque page cursors: base64url JSON of the position, then an HMAC-SHA256
 * (truncated to 128 bits) over the position and the query it belongs to, so
 * a client can neither forge a position nor replay a cursor on another
 * tenant, type, filter or sort.
 */
export class CursorCodec {
  readonly #secret: Buffer;

  /** @param secret shared by every node that must accept the cursor; random when absent. */
  constructor(secret?: string | Uint8Array) {
    this.#secret =
      secret === undefined
        ? randomBytes(32)
        : Buffer.from(typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret);
    if (this.#secret.length < 16) throw new Error('cursor secret must be at least 16 bytes');
  }

  #mac(binding: CursorBinding, body: string): Buffer {
    const { tenant, type, filter, sort } = binding;
    return createHmac('sha256', this.#secret)
      .update(JSON.stringify([tenant, type, filter, sort, body]))
      .digest()
      .subarray(0, MAC_BYTES);
  }

  encode(binding: CursorBinding, position: CursorPosition): string {
    const body = Buffer.from(JSON.stringify([position.values, position.id])).toString('base64url');
    return `${body}.${this.#mac(binding, body).toString('base64url')}`;
  }

  /** @throws ValidationError when the cursor is malformed, forged or from another query. */
  decode(binding: CursorBinding, cursor: unknown, keys: number): CursorPosition {
    if (typeof cursor !== 'string' || cursor.length > 4096) throw invalid('not a cursor');
    const [body, mac, extra] = cursor.split('.');
    if (body === undefined || mac === undefined || extra !== undefined) {
      throw invalid('not a cursor');
    }
    const given = Buffer.from(mac, 'base64url');
    const expected = this.#mac(binding, body);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw invalid('signature does not match');
    }
    // Signed by us, so well formed; checked anyway in case the secret leaked.
    const decoded = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as unknown;
    if (!Array.isArray(decoded) || decoded.length !== 2) throw invalid('bad content');
    const [values, id] = decoded as [unknown, unknown];
    const isSortValue = (v: unknown) =>
      v === null || typeof v === 'string' || typeof v === 'number';
    if (!Array.isArray(values) || values.length !== keys || !values.every(isSortValue)) {
      throw invalid('bad content');
    }
    if (typeof id !== 'string') throw invalid('bad content');
    return { values, id };
  }
}
