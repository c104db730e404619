/* global reject */
// Decide program of the `account` aggregate (see aggregates.yaml).
//
// It runs in the tenantfold sandbox: a plain script (no import/require),
// strict mode, no clock, no randomness, no timers, no I/O. Everything it
// needs arrives as JSON arguments; it returns events as JSON.
//
// decide(state, command) returns an event { type, data } or an array of them.
// reject(message) refuses the command: the caller gets a DomainError with
// exactly that message, and nothing is appended.

// eslint-disable-next-line @typescript-eslint/no-unused-vars -- called by the sandbox
function decide(state, command) {
  const data = command.data;
  switch (command.type) {
    case 'Open':
      if (state.status !== 'new') reject('account is already open');
      if (typeof data.owner !== 'string' || data.owner === '') reject('owner is required');
      return { type: 'Opened', data: { owner: data.owner } };
    case 'Deposit':
      requireOpen(state);
      return { type: 'Deposited', data: { amount: amountOf(data) } };
    case 'Withdraw': {
      requireOpen(state);
      const amount = amountOf(data);
      if (amount > state.balance) {
        reject(`insufficient funds: balance ${state.balance}, requested ${amount}`);
      }
      return { type: 'Withdrawn', data: { amount } };
    }
    default:
      return reject(`unknown command ${command.type}`);
  }
}

function requireOpen(state) {
  if (state.status !== 'open') reject('account is not open');
}

function amountOf(data) {
  const amount = data.amount;
  if (typeof amount !== 'number' || !Number.isFinite(amount) || amount <= 0) {
    reject(`amount must be a positive number, got ${JSON.stringify(amount)}`);
  }
  return amount;
}
