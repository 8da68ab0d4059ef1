export { createRelay, connectionEvent, type OnTunnel, type RelayDeps } from './relay';
export { createDoorHooks, accessFromConfig, type AccessSnapshot, type GatewayDoorHooks, type ForwardRequest } from './hooks';
export { dial, reasonForError } from './dial';
export { DestinationRules } from './destinations';
export { TunnelTracker } from './tunnels';
