import { ProgramLimitError } from '@tenantfold/core';
import { OUTCOME_FAULT, OUTCOME_LIMIT, OUTCOME_REJECTED, OUTCOME_RETURNED } from './bootstrap.js';
import type { CallOutcome } from './program.js';

/** Longest message copied out of a program into an error. */
const MAX_MESSAGE_CHARS = 2_000;

/** A reply of the bootstrap decoded, or the outcome `apply` already made of a failure. */
export function outcomeOf(raw: string | CallOutcome): CallOutcome {
  return typeof raw === 'string' ? decode(raw) : raw;
}

/** One outcome line of the bootstrap's reply. */
export function decode(raw: string): CallOutcome {
  const body = raw.slice(1);
  switch (raw[0]) {
    case OUTCOME_RETURNED:
      return { kind: 'returned', json: body };
    case OUTCOME_REJECTED: {
      const { message } = JSON.parse(body) as { message: string };
      return { kind: 'rejected', message: clip(message) };
    }
    case OUTCOME_FAULT: {
      const { name, message } = JSON.parse(body) as { name: string; message: string };
      return { kind: 'failed', name, message: clip(message) };
    }
    case OUTCOME_LIMIT: {
      const { message } = JSON.parse(body) as { message: string };
      throw new ProgramLimitError(clip(message));
    }
    default:
      throw new Error(`unexpected sandbox reply ${JSON.stringify(raw.slice(0, 40))}`);
  }
}

/** A program's message, cut to what an error carries. */
export function clip(message: string): string {
  return message.length <= MAX_MESSAGE_CHARS
    ? message
    : `${message.slice(0, MAX_MESSAGE_CHARS)}… (${message.length} characters)`;
}
