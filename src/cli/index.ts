/**
 * The `tarmac` command line: thin commands that parse, call a service (directly or through a running
 * server's API) and print; `--json` for machines; exit 0 on success, 1 on failure, 2 on usage errors.
 *
 * @example
 * process.exitCode = await runCli(process.argv.slice(2));
 */
export { buildCli, EXIT, runCli } from './main.js';
