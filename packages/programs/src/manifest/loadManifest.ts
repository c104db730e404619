import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { AggregateType } from '@tenantfold/core';
import { AggregateType as AggType, ValidationError } from '@tenantfold/core';
import { parseDocument } from 'yaml';
import type { ProgramLimits } from '../sandbox/index.js';
import { PROGRAM_LIMIT_KEYS, limitProblem } from '../sandbox/index.js';
import {
  Issues,
  absent,
  describeValue,
  fieldPath,
  isMapping,
  readInteger,
  readMapping,
  readString,
} from './fields.js';
import { ManifestError } from './manifestError.js';
import type {
  AggregateDefinition,
  Manifest,
  ProgramFile,
  QuerySettings,
  ReactorDefinition,
} from './types.js';

const TOP_LEVEL_FIELDS = ['aggregates', 'projections', 'processManagers'];
const AGGREGATE_FIELDS = ['decide', 'apply', 'snapshotEvery', 'maxRetries', 'limits', 'query'];
const REACTOR_FIELDS = ['subscribes', 'program', 'limits'];
/** Names of projections and process managers (they name checkpoints and KV keys). */
const REACTOR_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const SNAPSHOT_EVERY = { min: 0, max: 1_000_000_000 };
const MAX_RETRIES = { min: 0, max: 100 };
/** A dotted path into the state: `balance`, `owner.name`. */
const INDEX_PATH = /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/;
/** Aliases expanded when reading YAML, against "billion laughs" documents. */
const MAX_ALIAS_COUNT = 100;

/** A program path as written in the manifest, before its file is read. */
interface ProgramRef {
  readonly field: string;
  readonly filename: string;
  readonly path: string;
}

interface Draft extends Omit<AggregateDefinition, 'decide' | 'apply'> {
  readonly decide: ProgramRef;
  readonly apply: ProgramRef;
}

interface ReactorDraft extends Omit<ReactorDefinition, 'program'> {
  readonly program: ProgramRef;
}

/**
 * Reads and validates `aggregates.yaml` and the program files it names
 * (paths relative to the manifest):
 *
 * ```yaml
 * aggregates:
 *   account:                  # aggregate type
 *     decide: ./decide.js     # defines decide(state, command)
 *     apply: ./apply.js       # defines evolve(state, event) and initialState()
 *     snapshotEvery: 50       # optional
 *     maxRetries: 3           # optional
 *     limits: { cpuMs: 100, memoryMb: 32 }   # optional, each key optional
 *     query: { indexes: [status, balance] }  # optional, kept for the query engine
 * projections:                # optional
 *   totals:                   # name
 *     subscribes: [account]   # aggregate types of this manifest
 *     program: ./totals.js    # defines initialState() and project(state, event)
 *     limits: { cpuMs: 50 }   # optional
 * processManagers:            # optional
 *   audit:
 *     subscribes: [account]
 *     program: ./audit.js     # defines react(event)
 * ```
 *
 * Programs are read, not compiled: `loadProgramDeciders` compiles them.
 * @throws ManifestError (a ValidationError) listing every problem, each
 *   naming the file and the field
 */
export async function loadManifest(file: string): Promise<Manifest> {
  const absolute = resolve(file);
  let text: string;
  try {
    text = await readFile(absolute, 'utf8');
  } catch (error) {
    throw new ManifestError(file, [{ field: '', message: readProblem(error, file) }], {
      cause: error,
    });
  }
  const issues = new Issues();
  const data = parseYaml(text, issues);
  if (!issues.empty) throw new ManifestError(file, issues.list);

  const dir = dirname(absolute);
  const drafts = readAggregates(data, dir, issues);
  const types = new Set(drafts.map((draft) => draft.type));
  const sections = isMapping(data) ? data : {};
  const projections = readReactors(sections.projections, 'projections', dir, types, issues);
  const managers = readReactors(sections.processManagers, 'processManagers', dir, types, issues);
  const refs = [
    ...drafts.flatMap((draft) => [draft.decide, draft.apply]),
    ...[...projections, ...managers].map((reactor) => reactor.program),
  ];
  const files = await readPrograms(refs, issues);
  if (!issues.empty) throw new ManifestError(file, issues.list);

  const program = (ref: ProgramRef): ProgramFile => {
    const code = files.get(ref.path);
    if (code === undefined) throw new Error(`unread program ${ref.path}`); // read above
    return Object.freeze({ filename: ref.filename, path: ref.path, code });
  };
  const aggregates = drafts.map((draft) =>
    Object.freeze({ ...draft, decide: program(draft.decide), apply: program(draft.apply) }),
  );
  const reactors = (list: readonly ReactorDraft[]): readonly ReactorDefinition[] =>
    Object.freeze(
      list.map((draft) => Object.freeze({ ...draft, program: program(draft.program) })),
    );
  return Object.freeze({
    file,
    dir,
    aggregates: Object.freeze(aggregates),
    projections: reactors(projections),
    processManagers: reactors(managers),
  });
}

function parseYaml(text: string, issues: Issues): unknown {
  const doc = parseDocument(text);
  for (const error of doc.errors) issues.add('', `invalid YAML: ${firstLine(error.message)}`);
  if (!issues.empty) return undefined;
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as unknown;
  } catch (error) {
    return issues.add('', `invalid YAML: ${firstLine((error as Error).message)}`);
  }
}

function readAggregates(data: unknown, dir: string, issues: Issues): Draft[] {
  if (!isMapping(data)) {
    issues.add('', `expected a mapping with an 'aggregates' key, got ${describeValue(data)}`);
    return [];
  }
  readMapping(data, '', issues, { allowed: TOP_LEVEL_FIELDS, required: ['aggregates'] });
  const aggregates = data.aggregates;
  if (absent(aggregates)) return [];
  if (!isMapping(aggregates)) {
    issues.add(
      'aggregates',
      `expected a mapping of aggregate types, got ${describeValue(aggregates)}`,
    );
    return [];
  }
  if (Object.keys(aggregates).length === 0) {
    issues.add('aggregates', 'expected at least one aggregate type');
  }
  const drafts: Draft[] = [];
  for (const [key, value] of Object.entries(aggregates)) {
    const draft = readAggregate(key, value, dir, issues);
    if (draft !== undefined) drafts.push(draft);
  }
  return drafts;
}

function readAggregate(
  key: string,
  value: unknown,
  dir: string,
  issues: Issues,
): Draft | undefined {
  const field = `aggregates.${key}`;
  const before = issues.list.length;
  let type: AggregateType | undefined;
  try {
    type = AggType.parse(key, 'aggregate type');
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    issues.add(field, error.message);
  }
  const entry = readMapping(value, field, issues, {
    allowed: AGGREGATE_FIELDS,
    required: ['decide', 'apply'],
  });
  if (entry === undefined) return undefined;
  const decide = readProgramRef(entry.decide, fieldPath(field, 'decide'), dir, issues);
  const apply = readProgramRef(entry.apply, fieldPath(field, 'apply'), dir, issues);
  const snapshotEvery = optional(entry.snapshotEvery, (v) =>
    readInteger(v, fieldPath(field, 'snapshotEvery'), issues, SNAPSHOT_EVERY),
  );
  const maxRetries = optional(entry.maxRetries, (v) =>
    readInteger(v, fieldPath(field, 'maxRetries'), issues, MAX_RETRIES),
  );
  const limits = readLimits(entry.limits, fieldPath(field, 'limits'), issues);
  const query = readQuery(entry.query, fieldPath(field, 'query'), issues);
  if (issues.list.length > before || type === undefined) return undefined;
  if (decide === undefined || apply === undefined) return undefined;
  return {
    type,
    decide,
    apply,
    ...(snapshotEvery === undefined ? {} : { snapshotEvery }),
    ...(maxRetries === undefined ? {} : { maxRetries }),
    limits,
    query,
  };
}

function readReactors(
  value: unknown,
  section: string,
  dir: string,
  types: ReadonlySet<string>,
  issues: Issues,
): ReactorDraft[] {
  if (absent(value)) return [];
  if (!isMapping(value)) {
    issues.add(section, `expected a mapping of names, got ${describeValue(value)}`);
    return [];
  }
  const drafts: ReactorDraft[] = [];
  for (const [name, entry] of Object.entries(value)) {
    const field = `${section}.${name}`;
    const before = issues.list.length;
    if (!REACTOR_NAME.test(name)) issues.add(field, 'expected a name of 1-64 of A-Z a-z 0-9 _ -');
    const reactor = readMapping(entry, field, issues, {
      allowed: REACTOR_FIELDS,
      required: ['subscribes', 'program'],
    });
    if (reactor === undefined) continue;
    const subscribes = readSubscribes(
      reactor.subscribes,
      fieldPath(field, 'subscribes'),
      types,
      issues,
    );
    const program = readProgramRef(reactor.program, fieldPath(field, 'program'), dir, issues);
    const limits = readLimits(reactor.limits, fieldPath(field, 'limits'), issues);
    if (issues.list.length > before || program === undefined) continue;
    drafts.push({ name, subscribes, program, limits });
  }
  return drafts;
}

function readSubscribes(
  value: unknown,
  field: string,
  types: ReadonlySet<string>,
  issues: Issues,
): readonly AggregateType[] {
  if (absent(value)) return []; // reported as missing
  if (!Array.isArray(value) || value.length === 0) {
    issues.add(field, `expected a non-empty list of aggregate types, got ${describeValue(value)}`);
    return [];
  }
  const subscribes: AggregateType[] = [];
  value.forEach((type: unknown, i) => {
    if (typeof type !== 'string' || !types.has(type)) {
      issues.add(
        `${field}[${i}]`,
        `expected an aggregate type of this manifest (${[...types].join(', ')}), got ${describeValue(type)}`,
      );
    } else if (!subscribes.includes(type as AggregateType)) {
      subscribes.push(type as AggregateType);
    }
  });
  return Object.freeze(subscribes);
}

function optional<T>(value: unknown, read: (value: unknown) => T | undefined): T | undefined {
  return absent(value) ? undefined : read(value);
}

function readProgramRef(
  value: unknown,
  field: string,
  dir: string,
  issues: Issues,
): ProgramRef | undefined {
  if (absent(value)) return undefined; // reported as missing
  const filename = readString(value, field, issues);
  if (filename === undefined) return undefined;
  if (isAbsolute(filename)) {
    return issues.add(field, `expected a path relative to the manifest, got ${filename}`);
  }
  return { field, filename, path: resolve(dir, filename) };
}

function readLimits(value: unknown, field: string, issues: Issues): Partial<ProgramLimits> {
  if (absent(value)) return Object.freeze({});
  const entry = readMapping(value, field, issues, { allowed: PROGRAM_LIMIT_KEYS });
  const limits: { -readonly [K in keyof ProgramLimits]?: number } = {};
  for (const key of PROGRAM_LIMIT_KEYS) {
    const limit = entry?.[key];
    if (absent(limit)) continue;
    const problem = limitProblem(key, limit);
    if (problem === undefined) limits[key] = limit as number;
    else issues.add(fieldPath(field, key), problem);
  }
  return Object.freeze(limits);
}

function readQuery(value: unknown, field: string, issues: Issues): QuerySettings {
  const none: QuerySettings = Object.freeze({ indexes: Object.freeze([]) });
  if (absent(value)) return none;
  const entry = readMapping(value, field, issues, { allowed: ['indexes'] });
  if (entry === undefined || absent(entry.indexes)) return none;
  const indexesField = fieldPath(field, 'indexes');
  if (!Array.isArray(entry.indexes)) {
    issues.add(
      indexesField,
      `expected a list of state fields, got ${describeValue(entry.indexes)}`,
    );
    return none;
  }
  const indexes: string[] = [];
  entry.indexes.forEach((index: unknown, i) => {
    const at = `${indexesField}[${i}]`;
    if (typeof index !== 'string' || !INDEX_PATH.test(index)) {
      issues.add(
        at,
        `expected a state field such as balance or owner.name, got ${describeValue(index)}`,
      );
    } else if (indexes.includes(index)) {
      issues.add(at, `${index} is listed twice`);
    } else {
      indexes.push(index);
    }
  });
  return Object.freeze({ indexes: Object.freeze(indexes) });
}

/** Reads each program file once, reporting the ones that cannot be read. */
async function readPrograms(
  refs: readonly ProgramRef[],
  issues: Issues,
): Promise<Map<string, string>> {
  const unique = new Map<string, ProgramRef>();
  for (const ref of refs) if (!unique.has(ref.path)) unique.set(ref.path, ref);
  const files = new Map<string, string>();
  const failed = new Map<string, string>();
  await Promise.all(
    [...unique.values()].map(async (ref) => {
      try {
        files.set(ref.path, await readFile(ref.path, 'utf8'));
      } catch (error) {
        failed.set(ref.path, readProblem(error, ref.filename));
      }
    }),
  );
  for (const ref of refs) {
    const problem = failed.get(ref.path);
    if (problem !== undefined) issues.add(ref.field, problem);
  }
  return files;
}

function readProblem(error: unknown, name: string): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return `file not found: ${name}`;
  if (code === 'EISDIR') return `not a file: ${name}`;
  return `cannot read ${name}: ${code ?? (error as Error).message}`;
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/:$/, '');
}
