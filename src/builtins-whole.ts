/*
 * The entry of builtins-whole.js, the registry and every plugin in one bundle, which a multus DEL, CHECK or GC loads
 * (builtin-bundles.ts, bundleFile). In the compiler's dist/ it is builtins.js itself, so that a call run from dist/
 * (scripts/add-path.mjs, whose stack frames name source files) finds the file main.ts asks for.
 */
export * from './builtins';
