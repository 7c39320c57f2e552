/** holdpush's client: `import { subscribe } from 'holdpush/client'` (docs/client.md). */
export { subscribe } from './subscribe';
export type * from './types';

/** The client's version (its API, not the package's). */
export const version = '2';
