// fast-check arbitraries for the fuzz suites: recipes for the `recipe` program
// (test/fixtures/hostile/recipe.js), which builds from them any value a
// program could return, JSON or not; and request bodies a client could send.
import fc from 'fast-check';

const keys = fc.string({ maxLength: 8 });

/**
 * Run options every fuzz property adds: a failure (and its shrinking, which
 * replays big inputs) ends within a minute and fails, instead of eating CI's time.
 */
export const BOUNDED = { interruptAfterTimeLimit: 60_000, markInterruptAsFailure: true } as const;

/** A recipe: plain JSON, or an `op` the program turns into something JSON cannot hold. */
export const recipe: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: 'small' },
    fc.jsonValue({ maxDepth: 3 }),
    fc.constantFrom(
      ...[
        'nan',
        'infinity',
        'undefined',
        'function',
        'bigint',
        'symbol',
        'date',
        'map',
        'holes',
      ].map((op) => ({ op })),
    ),
    fc.record({
      op: fc.constantFrom('object', 'nullProto', 'proxy', 'cycle'),
      of: fc.dictionary(keys, tie('node'), { maxKeys: 4 }),
    }),
    fc.record({ op: fc.constantFrom('toJson', 'hiddenToJson', 'getter'), to: tie('node') }),
    fc.record({
      op: fc.constant('deep'),
      n: fc.oneof(fc.integer({ min: 0, max: 70 }), fc.constantFrom(1_100, 6_000)),
    }),
    fc.record({
      op: fc.constant('string'),
      n: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.constantFrom(262_144, 262_145, 600_000)),
    }),
    fc.record({
      op: fc.constant('many'),
      n: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.constantFrom(1_000, 1_001, 20_000)),
    }),
    fc.array(tie('node'), { maxLength: 4 }),
  ),
})).node;

/** Which command of the `recipe` program the recipe is given to. */
export const recipeCommand = fc.constantFrom('Data', 'Emit', 'State');

/** JSON text nested `depth` levels deep. */
const nestedText = fc
  .integer({ min: 1, max: 120_000 })
  .map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`);

/** Anything a client may post as a command body: shaped like a command or not at all. */
export const commandBody: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 64 }),
  fc.json({ maxDepth: 4 }),
  nestedText,
  fc
    .record(
      {
        aggregate_type: fc.oneof(fc.constantFrom('account', 'recipe', 'nope'), fc.jsonValue()),
        aggregate_id: fc.oneof(fc.constantFrom('a-1', ''), fc.jsonValue()),
        command_id: fc.oneof(fc.uuid(), fc.jsonValue()),
        expected_version: fc.jsonValue(),
        metadata: fc.jsonValue({ maxDepth: 2 }),
        payload: fc.oneof(
          fc.record({ type: fc.constantFrom('Open', 'Deposit'), data: fc.jsonValue() }),
          fc.jsonValue(),
        ),
      },
      { requiredKeys: [] },
    )
    .map((body) => JSON.stringify(body)),
  nestedText.map(
    (deep) =>
      `{"aggregate_type":"account","aggregate_id":"a-1","payload":{"type":"Deposit","data":${deep}}}`,
  ),
);
