/**
 * The kill -9 tests run the CLI as a user does, `node bin/ociaccess.js …`,
 * but must not depend on a prior `npm run build` (or race one): the whole of
 * src/ is transpiled (type-stripping only, as ts-jest does) into a private
 * directory laid out like the package — bin/ociaccess.js beside dist/ — whose
 * node_modules points at the project's. Done once per test file (~1 s).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sources(full)));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

/** Builds the package into outDir; returns the path of its bin/ociaccess.js. */
export async function compileCliInto(outDir: string): Promise<string> {
  const srcDir = path.join(repoRoot, 'src');
  for (const source of await sources(srcDir)) {
    const output = ts.transpileModule(await fs.readFile(source, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
      fileName: source,
    }).outputText;
    const target = path.join(outDir, 'dist', path.relative(srcDir, source)).replace(/\.ts$/, '.js');
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.writeFile(target, output);
  }
  await fs.mkdir(path.join(outDir, 'bin'), { recursive: true });
  await fs.copyFile(path.join(repoRoot, 'bin', 'ociaccess.js'), path.join(outDir, 'bin', 'ociaccess.js'));
  await fs.writeFile(path.join(outDir, 'package.json'), '{"type":"module"}\n');
  await fs.symlink(path.join(repoRoot, 'node_modules'), path.join(outDir, 'node_modules'), 'dir');
  return path.join(outDir, 'bin', 'ociaccess.js');
}
