// typescript-eslint with the type-checked rules over everything tsconfig.json covers; plain JS files get the
// untyped rules only.
import eslint from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/', 'coverage/'] },
  eslint.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Implementations of async interfaces (client middleware, test fakes) are async without awaiting anything.
      '@typescript-eslint/require-await': 'off',
      // `_name` marks a parameter or binding kept for its position; rest siblings omit a property from a copy.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    files: ['test/**/*.ts'],
    // jest's asymmetric matchers (expect.any, expect.stringMatching) are typed `any` by @types/jest.
    rules: { '@typescript-eslint/no-unsafe-assignment': 'off' },
  },
  { files: ['**/*.js'], extends: [tseslint.configs.disableTypeChecked] },
);
