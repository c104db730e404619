/* global reject */
// The `audit` aggregate (see aggregates.yaml): one audit case per account,
// opened by the large-withdrawals process manager. Decide and apply in one
// file: it is named in both fields of the manifest and compiled once.
//
// Commands: Flag { account, amount, version } (a large withdrawal), Close {},
// Reopen {}. A closed case refuses new flags: the process manager's command
// is then dead-lettered until an auditor reopens the case and replays it.

// eslint-disable-next-line @typescript-eslint/no-unused-vars -- called by the sandbox
function decide(state, command) {
  const data = command.data;
  switch (command.type) {
    case 'Flag':
      if (state.status === 'closed') reject(`audit case of ${data.account} is closed`);
      if (typeof data.amount !== 'number' || data.amount <= 0) reject('amount must be positive');
      return {
        type: 'Flagged',
        data: { account: data.account, amount: data.amount, version: data.version },
      };
    case 'Close':
      if (state.status !== 'open') reject('only an open audit case can be closed');
      return { type: 'Closed', data: {} };
    case 'Reopen':
      if (state.status !== 'closed') reject('only a closed audit case can be reopened');
      return { type: 'Reopened', data: {} };
    default:
      return reject(`unknown command ${command.type}`);
  }
}

// eslint-disable-next-line @typescript-eslint/no-unused-vars -- called by the sandbox
function initialState() {
  return { status: 'new', account: null, flags: [] };
}

// eslint-disable-next-line @typescript-eslint/no-unused-vars -- called by the sandbox
function evolve(state, event) {
  switch (event.type) {
    case 'Flagged':
      return {
        status: 'open',
        account: event.data.account,
        flags: [...state.flags, { amount: event.data.amount, version: event.data.version }],
      };
    case 'Closed':
      return { ...state, status: 'closed' };
    case 'Reopened':
      return { ...state, status: 'open' };
    default:
      return state;
  }
}
