// vitest setup file of the engine matrix (vitest.config.ts): runs before each test file.
import { installTestEngine } from './engine.ts';

installTestEngine();
