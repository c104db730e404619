/** How a failed call ended, one metrics label value per class of answer (the same on node and router). */
export type FailureOutcome =
  'invalid' | 'denied' | 'rejected' | 'conflict' | 'not_found' | 'unavailable' | 'error';

/** The outcome label of a failure with this stable error code (`INTERNAL` and unknown codes: `error`). */
export function outcomeOfCode(code: string): FailureOutcome {
  switch (code) {
    case 'VALIDATION':
      return 'invalid';
    case 'TENANT_ACCESS_DENIED':
      return 'denied';
    case 'DECIDE':
    case 'PROGRAM_LIMIT':
      return 'rejected';
    case 'VERSION_CONFLICT':
      return 'conflict';
    case 'NOT_FOUND':
      return 'not_found';
    case 'NOT_OWNER':
    case 'UNAVAILABLE':
    case 'STORAGE':
    case 'STREAM':
      return 'unavailable';
    default:
      return 'error';
  }
}
