import type { AggregateType, StreamKey, TenantId } from '@tenantfold/core';
import { StreamError, StreamKey as Key, TenantId as Tenant } from '@tenantfold/core';

/**
 * The subjects of aggregate streams under a prefix:
 * `<prefix>tenant.<tenant-token>.aggregate.<type>.<id>`.
 */
export class CommitSubjects {
  constructor(readonly prefix: string) {}

  /** Every aggregate stream: the stream's subject filter. */
  get all(): string {
    return `${this.prefix}tenant.*.aggregate.*.*`;
  }

  of(key: StreamKey): string {
    return `${this.prefix}${Key.subject(key)}`;
  }

  /** A filter for one tenant and/or one aggregate type (`*` where absent). */
  filter(tenant?: TenantId, type?: AggregateType): string {
    const token = tenant === undefined ? '*' : Tenant.token(tenant);
    return `${this.prefix}tenant.${token}.aggregate.${type ?? '*'}.*`;
  }

  /** The stream key of a subject; `StreamKey.fromString` rules (`=default` is the default tenant). */
  parse(subject: string): StreamKey {
    const tokens = subject.startsWith(this.prefix)
      ? subject.slice(this.prefix.length).split('.')
      : [];
    const [tenantWord, tenant, aggregateWord, type, id, ...rest] = tokens;
    if (
      tenantWord === 'tenant' &&
      aggregateWord === 'aggregate' &&
      tenant !== undefined &&
      type !== undefined &&
      id !== undefined &&
      rest.length === 0
    ) {
      try {
        return Key.fromString(`${tenant}.${type}.${id}`);
      } catch (cause) {
        throw new StreamError(`subject '${subject}' does not name an aggregate stream`, { cause });
      }
    }
    throw new StreamError(`subject '${subject}' does not name an aggregate stream`);
  }
}
