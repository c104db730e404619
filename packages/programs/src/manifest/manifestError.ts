import { ValidationError } from '@tenantfold/core';

/** One problem in a manifest: the dotted path of the field (empty for the file itself) and what is wrong. */
export interface ManifestIssue {
  readonly field: string;
  readonly message: string;
}

/**
 * A manifest that cannot be used. The message has one line per problem, each
 * `<file>: <field>: <problem>`, e.g.
 * `aggregates.yaml: aggregates.account.decide: file not found: ./decide.js`;
 * `field` is the first problem's field.
 */
export class ManifestError extends ValidationError {
  constructor(
    readonly file: string,
    readonly issues: readonly ManifestIssue[],
    options?: ErrorOptions,
  ) {
    super(
      issues
        .map(({ field, message }) => `${file}: ${field === '' ? '' : `${field}: `}${message}`)
        .join('\n'),
      issues[0]?.field,
      options,
    );
  }

  override toJSON() {
    return { ...super.toJSON(), file: this.file, issues: this.issues };
  }
}
