/**
 * True when `npm start`'s launcher (src/cli/start.ts) runs this process: it gives each process
 * it starts an IPC channel, and nothing else in the project does. Used to stop gracefully when
 * the launcher dies, and to print the development warnings once for the whole system.
 */
export const runByLauncher = (): boolean => typeof process.send === 'function';
