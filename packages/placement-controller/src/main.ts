#!/usr/bin/env node
// placementctl: settings from PLACEMENTCTL_* env and the global flags; see `placementctl --help`.
import { runPlacementctl } from './cli/program.js';
import { processIo } from './cli/output.js';

process.exitCode = await runPlacementctl(process.argv.slice(2), processIo());
