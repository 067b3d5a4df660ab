/** Kept in step with package.json by test/unit/version.test.ts (reading package.json at start-up would cost time). */
export const VERSION = '0.1.0';
