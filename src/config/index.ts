/**
 * Configuration: one typed config read from environment variables, and the YAML loader that validates
 * `tarmac.yaml` with file, path and line in every error.
 *
 * @example
 * const config = loadConfig();
 * const workspace = readYamlFile(WorkspaceSchema, 'tarmac.yaml');
 */
export { ENV, loadConfig, type Config } from './env.js';
export { parseYaml, readYamlFile, yamlErrorAt, type YamlIssue } from './yaml-file.js';
