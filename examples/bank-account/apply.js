// Apply program of the `account` aggregate (see aggregates.yaml).
//
// initialState() is the state of an account that does not exist yet;
// evolve(state, event) returns the state after one event. Both are pure:
// return a new object, never throw for an event you do not know.

// eslint-disable-next-line @typescript-eslint/no-unused-vars -- called by the sandbox
function initialState() {
  return { status: 'new', owner: null, balance: 0 };
}

// eslint-disable-next-line @typescript-eslint/no-unused-vars -- called by the sandbox
function evolve(state, event) {
  switch (event.type) {
    case 'Opened':
      return { status: 'open', owner: event.data.owner, balance: 0 };
    case 'Deposited':
      return { ...state, balance: state.balance + event.data.amount };
    case 'Withdrawn':
      return { ...state, balance: state.balance - event.data.amount };
    default:
      return state;
  }
}
