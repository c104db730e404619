// Projection `totals` (see aggregates.yaml): one document per tenant with its
// account count and money moved, folded from the `account` events.
//
// initialState() is the document of a tenant with no events; project(state,
// event) returns it after one event envelope (event.event_type,
// event.payload, event.aggregate_id, event.version, ...). Pure, like apply.

// eslint-disable-next-line @typescript-eslint/no-unused-vars -- called by the sandbox
function initialState() {
  return { accounts: 0, balance: 0, deposited: 0, withdrawn: 0 };
}

// eslint-disable-next-line @typescript-eslint/no-unused-vars -- called by the sandbox
function project(state, event) {
  switch (event.event_type) {
    case 'Opened':
      return { ...state, accounts: state.accounts + 1 };
    case 'Deposited':
      return {
        ...state,
        balance: state.balance + event.payload.amount,
        deposited: state.deposited + event.payload.amount,
      };
    case 'Withdrawn':
      return {
        ...state,
        balance: state.balance - event.payload.amount,
        withdrawn: state.withdrawn + event.payload.amount,
      };
    default:
      return state;
  }
}
