import type {
  Metadata,
  sendUnaryData,
  ServerUnaryCall,
  UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { EventEnvelope } from '@tenantfold/core';
import type { SubmitCommandRequest } from '@tenantfold/wire';
import { callContextOf, commandBodyOf, toServiceError } from '@tenantfold/wire';
import type { CommandHandler } from '../intake/commandHandler.js';

interface GetStateRequest {
  tenant_id: string;
  aggregate_type: string;
  aggregate_id: string;
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
      const result = await handler.submit(callContextOf(metadata), commandBodyOf(request));
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
