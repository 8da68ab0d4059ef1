export { loadPolicy, parsePolicy, DEFAULT_POLICY_DOC, type Policy } from './load';
export { compilePolicy, compileRegex, compileRedactors, type CompiledPolicy, type CompiledRule } from './compile';
export { computeIstag } from './istag';
export { PolicyStore, type PolicySnapshot } from './store';
export { policySchema, type PolicyDoc, type RuleDoc } from './schema';
export { redactText, REDACTION_MASK } from './redact';
