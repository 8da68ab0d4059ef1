export { createIcapServices, type IcapServiceDeps } from './services';
export { blockResponse, prefersJson, type BlockInfo } from './block-page';
export { httpEvent, parseRequestLine } from './http-event';
