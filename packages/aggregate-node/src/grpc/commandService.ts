import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import type { EventEnvelope } from '@tenantfold/core';
import type { SubmitCommandRequest } from '@tenantfold/wire';
import { callContextOf, commandBodyOf } from '@tenantfold/wire';
import type { CommandHandler, SubmitResult } from '../intake/commandHandler.js';
import { unary } from './unary.js';

interface GetStateRequest {
  tenant_id: string;
  aggregate_type: string;
  aggregate_id: string;
}

function eventMessage(event: EventEnvelope) {
  return { ...event, payload_json: JSON.stringify(event.payload) };
}

/** `tenantfold.v1.SubmitCommandResponse` of a result, for proto-loader to encode. */
export function submitResponseOf(result: SubmitResult) {
  return {
    command_id: result.command_id,
    events: result.events.map(eventMessage),
    version: result.version,
    consistency_token: result.position,
    duplicate: result.duplicate,
  };
}

/** gRPC `tenantfold.v1.CommandService` over the node's command handler. */
export function commandService(handler: CommandHandler): UntypedServiceImplementation {
  return {
    SubmitCommand: unary(async (request: SubmitCommandRequest, metadata) => {
      const call = callContextOf(metadata);
      const release = handler.admit(call.tenant, request.payload_json.length);
      try {
        return submitResponseOf(await handler.submit(call, commandBodyOf(request)));
      } finally {
        release();
      }
    }),
    GetState: unary(async (request: GetStateRequest, metadata) => {
      const { state, version } = await handler.getState(callContextOf(metadata), { ...request });
      return { state_json: JSON.stringify(state), version };
    }),
  };
}
