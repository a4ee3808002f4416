// @ts-expect-error plain ESM script without types
import { build } from '../scripts/build.mjs';

/**
 * Runs once before any test file: the same build as `pnpm build` (a second or so when nothing
 * changed). Tests that start real processes (`node dist/main.js`, migrations, the launcher) then find
 * dist/ current, and no test builds anything itself.
 */
export default async function setup(): Promise<void> {
  await (build as () => Promise<void>)();
}
