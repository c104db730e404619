import { fileURLToPath } from 'node:url';
import type { GrpcObject, ServiceClientConstructor } from '@grpc/grpc-js';
import { loadPackageDefinition } from '@grpc/grpc-js';
import type { Options, PackageDefinition } from '@grpc/proto-loader';
import { loadSync } from '@grpc/proto-loader';

/** This package's `proto/` (shipped with it; beside both src/ and dist/). */
export const PROTO_DIR = fileURLToPath(new URL('../proto', import.meta.url));

/** How messages decode: field names as in the .proto, uint64 as numbers, set-ness of optionals visible. */
export const PROTO_LOADER_OPTIONS: Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

let loaded: { definition: PackageDefinition; v1: GrpcObject } | undefined;

/** The tenantfold.v1 package, loaded once. */
export function tenantfoldProtos(): { definition: PackageDefinition; v1: GrpcObject } {
  if (loaded === undefined) {
    const definition = loadSync(
      ['tenantfold/v1/commands.proto', 'tenantfold/v1/query.proto'],
      PROTO_LOADER_OPTIONS,
    );
    const root = loadPackageDefinition(definition) as { tenantfold: { v1: GrpcObject } };
    loaded = { definition, v1: root.tenantfold.v1 };
  }
  return loaded;
}

export function commandServiceClient(): ServiceClientConstructor {
  return tenantfoldProtos().v1.CommandService as ServiceClientConstructor;
}

export function queryServiceClient(): ServiceClientConstructor {
  return tenantfoldProtos().v1.QueryService as ServiceClientConstructor;
}
