export { createRelay, pipeBoth, type OnTunnel, type RelayDeps, type DataPhase, type TunnelHandle } from './relay';
export { connectionEvent, forwardEvent, decide, type ForwardRequest } from './decide';
export { createDoorHooks, accessFromConfig, type AccessSnapshot, type GatewayDoorHooks } from './hooks';
export { dial, reasonForError } from './dial';
export { DestinationRules } from './destinations';
export { TunnelTracker } from './tunnels';
export { passthrough, isUpgraded, userBufferAvailable, UPGRADE_BYTES } from './passthrough';
