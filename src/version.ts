/** gostall's version, one place: the CLI's --version, the resource and the instrumentation scope. */
export const GOSTALL_VERSION = '0.1.0';
