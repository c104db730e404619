import { DomainError } from '@tenantfold/core';
import {
  Counter,
  DeciderSpecification,
  Inventory,
  Order,
  ProcessManagerSpecification,
  ReservationSaga,
} from '@tenantfold/testkit';
import { describe, expect, it } from 'vitest';

describe('DeciderSpecification', () => {
  const order = DeciderSpecification.for(Order);
  const inventory = DeciderSpecification.for(Inventory);

  it('given no events, Place gives Placed', () =>
    order([])
      .when({ type: 'Place', data: { sku: 'W-1', qty: 2 } })
      .then([{ type: 'Placed', data: { sku: 'W-1', qty: 2 } }]));

  it('a placed order refuses a second Place', () =>
    order([{ type: 'Placed', data: { sku: 'W-1', qty: 2 } }])
      .when({ type: 'Place', data: { sku: 'W-1', qty: 1 } })
      .thenThrows(DomainError, 'already placed'));

  it('folds the given and produced events into the state', () =>
    inventory([{ type: 'Reserved', data: { qty: 3 } }])
      .when({ type: 'Reserve', data: { qty: 4 } })
      .thenState({ reserved: 7 }));

  it('fails when the decider produces other events', async () => {
    await expect(
      DeciderSpecification.for(Counter)([])
        .when({ type: 'Add', data: { n: 1 } })
        .then([{ type: 'Added', data: { n: 2 } }]),
    ).rejects.toThrow();
  });
});

describe('ProcessManagerSpecification', () => {
  const saga = ProcessManagerSpecification.for(ReservationSaga);

  it('a placed order asks its item to reserve the quantity', () =>
    saga([
      {
        aggregate_type: 'order',
        aggregate_id: 'o-1',
        type: 'Placed',
        data: { sku: 'W-1', qty: 2 },
      },
    ]).then([
      {
        aggregate_type: 'inventory',
        instance_id: 'inv-W-1',
        command: { type: 'Reserve', data: { qty: 2 } },
      },
    ]));

  it('other events cause nothing', () =>
    saga([{ aggregate_type: 'order', aggregate_id: 'o-1', type: 'Cancelled' }]).thenNothing());
});
