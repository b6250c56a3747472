export { tf, backend } from './tf';
export type { BackendInfo, Tf } from './tf';
