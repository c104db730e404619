import type { ComparisonOp } from './ast.js';

/** Whether `a op b` holds, given the sign of the comparison of a with b. */
export function holds(op: ComparisonOp, sign: number): boolean {
  switch (op) {
    case '=':
      return sign === 0;
    case '!=':
      return sign !== 0;
    case '<':
      return sign < 0;
    case '<=':
      return sign <= 0;
    case '>':
      return sign > 0;
    case '>=':
      return sign >= 0;
  }
}
