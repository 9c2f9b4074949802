/**
 * The composition root: builds every service from the config, installs Tarmac on a new database, and
 * starts the server with its background workers.
 *
 * @example
 * const server = await startServer(loadConfig());
 * console.log(startBanner(server));
 */
export { ADMIN_EMAIL, adminKeyPath, createLogger, DEMO_WORKSPACE_FILE, demoWorkspaceText, openServices, packageVersion, refuseOtherAdminKey, type Services } from './app.js';
export { serverInfoPath, startBanner, startServer, type RunningServer } from './serve.js';
