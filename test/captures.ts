// The real IM captures live in shared/captures beside the repository (the
// workplace's ../shared; CI clones the repo with shared/ next to it), not at
// a fixed absolute path. IMGATE_CAPTURES overrides it.
import path from 'node:path';

export const CAPTURES = process.env.IMGATE_CAPTURES ?? path.resolve(__dirname, '..', '..', 'shared', 'captures');

export const capture = (name: string): string => path.join(CAPTURES, name);
