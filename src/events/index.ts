export * from './types';
export { newEventId } from './id';
