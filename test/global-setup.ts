// @ts-expect-error plain ESM script without types
import { buildIfChanged } from '../scripts/build.mjs';

/**
 * Runs once before any test file: the same build as `pnpm build`, skipped when its stamp says no
 * source changed since the last one (as `pnpm start` does). Tests that start real processes
 * (`node dist/main.js`, migrations, the launcher) then find dist/ current, and no test builds
 * anything itself.
 */
export default async function setup(): Promise<void> {
  await (buildIfChanged as () => Promise<boolean>)();
}
