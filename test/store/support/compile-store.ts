/**
 * Child processes cannot import TypeScript on Node 20, and the tests must not
 * depend on a prior `npm run build`. So the multi-process tests transpile
 * src/store/ and the modules it imports (type-stripping only, as ts-jest does
 * with isolatedModules) into a temp directory whose node_modules points at the
 * project's, and the children import that.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export async function compileStoreInto(outDir: string): Promise<string> {
  const pending = (await fs.readdir(path.join(repoRoot, 'src/store')))
    .filter((name) => name.endsWith('.ts'))
    .map((name) => path.join(repoRoot, 'src/store', name));
  const done = new Set<string>();
  while (pending.length > 0) {
    const source = pending.pop()!;
    if (done.has(source)) continue;
    done.add(source);
    const text = await fs.readFile(source, 'utf8');
    for (const match of text.matchAll(/from '(\.{1,2}\/[^']+)\.js'/g)) {
      pending.push(path.resolve(path.dirname(source), `${match[1]}.ts`));
    }
    const output = ts.transpileModule(text, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
      fileName: source,
    }).outputText;
    const target = path.join(outDir, path.relative(repoRoot, source)).replace(/\.ts$/, '.js');
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.writeFile(target, output);
  }
  await fs.writeFile(path.join(outDir, 'package.json'), '{"type":"module"}\n');
  await fs.symlink(path.join(repoRoot, 'node_modules'), path.join(outDir, 'node_modules'), 'dir');
  return outDir;
}
