import type {
  Metadata,
  sendUnaryData,
  ServerUnaryCall,
  UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { EventEnvelope } from '@tenantfold/core';
import { parseJson, ValidationError } from '@tenantfold/core';
import type { CallContext, CommandHandler } from '../intake/commandHandler.js';
import { metadataValue, toServiceError } from '@tenantfold/wire';

interface SubmitCommandRequest {
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

interface GetStateRequest {
  tenant_id: string;
  aggregate_type: string;
  aggregate_id: string;
}

export function callContextOf(metadata: Metadata): CallContext {
  return {
    tenant: metadataValue(metadata, 'x-tenant-id'),
    correlationId: metadataValue(metadata, 'x-correlation-id'),
    traceparent: metadataValue(metadata, 'traceparent'),
  };
}

function eventMessage(event: EventEnvelope) {
  return { ...event, payload_json: JSON.stringify(event.payload) };
}

function unary<Req, Res>(handle: (request: Req, metadata: Metadata) => Promise<Res>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    handle(call.request, call.metadata).then(
      (response) => callback(null, response),
      (error: unknown) => callback(toServiceError(error)),
    );
  };
}

/** gRPC `tenantfold.v1.CommandService` over the node's command handler. */
export function commandService(handler: CommandHandler): UntypedServiceImplementation {
  return {
    SubmitCommand: unary(async (request: SubmitCommandRequest, metadata) => {
      if (request.payload_json === '')
        throw new ValidationError('payload_json is required', 'payload_json');
      const body: Record<string, unknown> = {
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
      const result = await handler.submit(callContextOf(metadata), body);
      return {
        command_id: result.command_id,
        events: result.events.map(eventMessage),
        version: result.version,
        consistency_token: result.position,
        duplicate: result.duplicate,
      };
    }),
    GetState: unary(async (request: GetStateRequest, metadata) => {
      const { state, version } = await handler.getState(callContextOf(metadata), { ...request });
      return { state_json: JSON.stringify(state), version };
    }),
  };
}
