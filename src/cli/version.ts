/** gostall's version: the one in package.json (src/version.ts, found from the package root). */
export { GOSTALL_VERSION as VERSION } from '../version.js';
