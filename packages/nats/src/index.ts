// Public entry of @tenantfold/nats: explicit exports, filled in per module.
export {};
