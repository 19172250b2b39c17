// Injected by esbuild only where plugin code uses the global `Buffer`.
import bufferModule from './buffer.cjs';
export const Buffer = bufferModule.Buffer;
