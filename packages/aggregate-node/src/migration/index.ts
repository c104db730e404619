export { TenantMigration } from './tenantMigration.js';
export type {
  DrainReport,
  ReleaseReport,
  TenantMigrationOptions,
  VerifyMismatch,
  VerifyReport,
  WarmReport,
} from './tenantMigration.js';
export { parseSinceRequest, parseTenantRequest, parseVerifyRequest } from './requests.js';
export type {
  AggregatePosition,
  MigrationStepRequest,
  TenantRequest,
  VerifyRequest,
} from './requests.js';
