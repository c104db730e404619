// Process manager `large-withdrawals` (see aggregates.yaml): a withdrawal of
// 1,000 or more flags the account's audit case (one `audit` aggregate per
// account, opened by its first flag).
//
// react(event) gets each event envelope of the subscribed types and returns
// the commands to send: [{ aggregate_type, instance_id, command: { type, data } }].
// Each command's id is derived from the event, so sending it again after a
// crash is recognised as a repeat.

const LARGE_WITHDRAWAL = 1000;

// eslint-disable-next-line @typescript-eslint/no-unused-vars -- called by the sandbox
function react(event) {
  if (event.event_type !== 'Withdrawn' || event.payload.amount < LARGE_WITHDRAWAL) return [];
  return [
    {
      aggregate_type: 'audit',
      instance_id: event.aggregate_id,
      command: {
        type: 'Flag',
        data: { account: event.aggregate_id, amount: event.payload.amount, version: event.version },
      },
    },
  ];
}
