import { UnavailableError } from '@tenantfold/core';
import { describe, expect, it } from 'vitest';
import { IntakeBudget } from '../src/intake/intakeBudget.js';

describe('IntakeBudget', () => {
  it("refuses a tenant's bytes past its bound, and takes them again once released", () => {
    const budget = new IntakeBudget(100, 1_000);
    const first = budget.take('a', 60);
    expect(() => budget.take('a', 60)).toThrow(UnavailableError);
    const other = budget.take('b', 60); // another tenant is not held to a's bound
    first();
    first(); // a second release changes nothing
    budget.take('a', 60)();
    other();
  });

  it('takes one command alone whatever its size', () => {
    const budget = new IntakeBudget(100, 1_000);
    const release = budget.take('a', 5_000);
    expect(() => budget.take('a', 1)).toThrow(/bytes of commands in flight/);
    release();
  });

  it('bounds the node as a whole: tenant ids spread over many names meet it', () => {
    const budget = new IntakeBudget(100, 250);
    const held = [budget.take('t1', 100), budget.take('t2', 100)];
    expect(() => budget.take('t3', 100)).toThrow(/this node has 200 bytes/);
    held.forEach((release) => release());
    budget.take('t3', 100)();
  });
});
