/**
 * The composition root: builds every service from the one list of capabilities, installs Tarmac on a new
 * database, and starts the server with every capability's background workers.
 *
 * @example
 * const server = await startServer(loadConfig());
 * console.log(startBanner(server));
 */
export { ADMIN_EMAIL, adminKeyPath, createLogger, DEMO_WORKSPACE_FILE, demoWorkspaceText, openServices, packageVersion, refuseOtherAdminKey, type Services } from './app.js';
export { CAPABILITIES, type CapabilityOptions, type CapabilityServices } from './capabilities.js';
export { serverInfoPath, startBanner, startServer, type RunningServer } from './serve.js';
