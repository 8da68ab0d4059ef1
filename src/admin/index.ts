export { Metrics } from './metrics';
export { Readiness, type ListenerState, type ListenerStatus, type ReadinessCheck, type ReadyReport } from './readiness';
export { createAdminServer, type AdminServer, type AdminServerOptions } from './server';
