import type { Metadata } from '@grpc/grpc-js';
import { ERROR_CODE_KEY, metadataValue } from '@tenantfold/wire';

/**
 * A node's own error answer (it carries `x-error-code`): passed on to the
 * client unchanged, so the router adds no second translation of node errors.
 */
export class NodeAnswerError extends Error {
  /** The node's stable error code (`VALIDATION`, `NOT_OWNER`, ...). */
  readonly code: string;

  constructor(
    readonly nodeId: string,
    readonly grpcStatus: number,
    readonly details: string,
    readonly metadata: Metadata,
  ) {
    super(details);
    this.name = 'NodeAnswerError';
    this.code = metadataValue(metadata, ERROR_CODE_KEY) ?? 'INTERNAL';
  }
}

/** Whether a node error is a code the node itself sent (rather than a transport failure). */
export function hasErrorCode(metadata: Metadata | undefined): boolean {
  return metadata !== undefined && metadataValue(metadata, ERROR_CODE_KEY) !== undefined;
}
