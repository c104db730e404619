import type { Metadata } from '@grpc/grpc-js';
import { parseJson, TenantAccessDeniedError, TenantId, ValidationError } from '@tenantfold/core';
import { metadataValue } from './status.js';

/** Request context that arrives beside the body (gRPC metadata, HTTP headers). */
export interface CallContext {
  /** `x-tenant-id`; undefined when the header is absent. */
  readonly tenant: string | undefined;
  readonly correlationId?: string | undefined;
  readonly traceparent?: string | undefined;
  /** The id a router gave a command that came without one (`x-command-id`). */
  readonly commandId?: string | undefined;
}

export function callContextOf(metadata: Metadata): CallContext {
  return {
    tenant: metadataValue(metadata, 'x-tenant-id'),
    correlationId: metadataValue(metadata, 'x-correlation-id'),
    traceparent: metadataValue(metadata, 'traceparent'),
  };
}

/**
 * The tenant of a call: from its header, checked against the body's. A call
 * without the header means the default tenant only where the deployment allows it.
 */
export function tenantOfCall(
  call: CallContext,
  bodyTenant: unknown,
  allowDefaultTenant: boolean,
): TenantId {
  if ((call.tenant === undefined || call.tenant === '') && !allowDefaultTenant) {
    throw new ValidationError(
      'x-tenant-id is required (this deployment has no default tenant)',
      'x-tenant-id',
    );
  }
  const tenant = TenantId.parse(call.tenant ?? '', 'x-tenant-id');
  if (bodyTenant !== undefined && bodyTenant !== '' && bodyTenant !== tenant) {
    throw new TenantAccessDeniedError(`body tenant_id does not match x-tenant-id '${tenant}'`);
  }
  return tenant;
}

/** `SubmitCommandRequest` as proto-loader decodes it. */
export interface SubmitCommandRequest {
  tenant_id: string;
  command_id: string;
  aggregate_type: string;
  aggregate_id: string;
  payload_json: string;
  metadata: Record<string, string>;
  expected_version?: number;
  /** Set by proto-loader (`oneofs: true`) when the optional field is present. */
  _expected_version?: 'expected_version';
}

/** A gRPC SubmitCommand request as the JSON command body that HTTP carries too. */
export function commandBodyOf(request: SubmitCommandRequest): Record<string, unknown> {
  if (request.payload_json === '') {
    throw new ValidationError('payload_json is required', 'payload_json');
  }
  return {
    tenant_id: request.tenant_id,
    aggregate_type: request.aggregate_type,
    aggregate_id: request.aggregate_id,
    payload: parseJson(request.payload_json, 'payload_json'),
    metadata: request.metadata,
    ...(request.command_id === '' ? {} : { command_id: request.command_id }),
    ...(request._expected_version === undefined
      ? {}
      : { expected_version: request.expected_version }),
  };
}
