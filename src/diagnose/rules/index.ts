/** The cause rules, one module each. */
import type { Rule } from '../types.js';

export const RULES: Rule[] = [];
