/** dllm's version, kept equal to package.json's by test/arch/version.test.ts */
export const VERSION = '0.1.0';
