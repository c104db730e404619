import { join } from 'node:path';
import type { StreamKey, TenantId } from '../domain/index.js';

/**
 * Where a store directory keeps things. The default tenant lives at the top
 * (`<base>/streams/<type>/<id>/`), other tenants under `<base>/tenants/<tenant>/`.
 */
export function tenantRoot(base: string, tenant: TenantId): string {
  return tenant === '' ? base : join(base, 'tenants', tenant);
}

export function streamDir(base: string, key: StreamKey): string {
  return join(tenantRoot(base, key.tenant), 'streams', key.type, key.id);
}

export const COMMITS_FILE = 'commits.jsonl';
export const SNAPSHOT_FILE = 'snapshot.json';
