// vitest setup file of the engine matrix (vitest.config.ts): runs before each test file.
import { afterAll } from 'vitest';
import { TEST_ENGINE, installTestEngine, pluginsOffTestEngine } from './engine.ts';

installTestEngine();

afterAll(() => {
  const off = pluginsOffTestEngine();
  if (off.length > 0) {
    throw new Error(`this file ran in the ${TEST_ENGINE} matrix but loaded ${off.join(', ')}; give its host the engine from test/helpers/engine.ts (TEST_ENGINE)`);
  }
});
