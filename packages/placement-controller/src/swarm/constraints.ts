import type { Placement } from '@tenantfold/nats';
import { rangeConstraint, tenantRanges } from './ranges.js';

export interface RangeConstraints {
  readonly range: string;
  readonly nodes: readonly string[];
  /** `--constraint` argument of `docker service create|update`. */
  readonly constraint: string;
  /** Labels the Swarm node that should run this range. */
  readonly labelCommand: string;
}

/**
 * The `--constraint` lines and `docker node update --label-add` commands for
 * the current nodes. `swarmNodes` maps a range to the Swarm node (hostname or
 * id) that runs it; unmapped ranges get a placeholder to fill in.
 */
export function swarmConstraints(
  placement: Placement,
  swarmNodes: ReadonlyMap<string, string> = new Map(),
): RangeConstraints[] {
  return tenantRanges(placement).map(({ range, nodes }) => ({
    range,
    nodes: nodes.map((n) => n.id),
    constraint: rangeConstraint(range),
    labelCommand: `docker node update --label-add tenant_range=${range} ${swarmNodes.get(range) ?? `<swarm-node-for-${range}>`}`,
  }));
}

/** The same as shell lines, with a comment per range. */
export function constraintsScript(constraints: readonly RangeConstraints[]): string {
  return constraints
    .map(
      (c) =>
        `# tenant_range ${c.range}: ${c.nodes.join(', ')}\n${c.labelCommand}\n--constraint '${c.constraint}'\n`,
    )
    .join('\n');
}
