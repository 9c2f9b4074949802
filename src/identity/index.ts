/**
 * Identity: teams, users, roles and API keys (prefix `tmk_`, shown once, stored hashed, with scopes,
 * expiry, revocation and last use), and authentication of keys into principals.
 *
 * @example
 * const identity = new IdentityService(db, audit);
 * const principal = await identity.authenticate('tmk_…');
 * const { token } = await identity.createKey({ principal }, { name: 'ci', scopes: ['read'] });
 */
export { IdentityService, IdentityWriter, keyView, type CreateKeyInput } from './identity.service.js';
export { ApiKey, CreatedKey, Team, User } from './identity.schema.js';
export { KEY_PREFIX } from './keys.js';
export { emailsNamed, findInstallation, principalsOfTeam, principalsOfUser, findTeam, findUser, listTeams, membershipsOfUser, membersOfTeam, type TeamRow, type UserRow } from './identity.repository.js';
export { capability } from './capability.js';
