export { Metrics } from './metrics';
export { Readiness, type ListenerState, type ListenerStatus, type ReadinessCheck, type ReadyReport } from './readiness';
export { createAdminServer, type AdminServer, type AdminServerOptions } from './server';
export { AdminAuth, resolveAdminAuth, GENERATED_TOKEN_FILE, type AdminAuthSettings, type ResolvedAuth } from './auth';
export { createApi, policyInfo, type AdminApiDeps, type ApiAnswer } from './api';
export { adminUiOptions } from './setup';
export { CSP, type AdminUiOptions } from './ui';
