// Builds the static page of `twicing export-web` into dist/: the page, one JavaScript bundle (the app plus
// onnxruntime-web's WebAssembly backend) and ONNX Runtime's .wasm/.mjs files, so nothing is fetched from the
// internet at run time. `twicing export-web` copies dist/ into each exported site.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync, rmSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'dist');
const tmp = join(here, 'dist.tmp');
rmSync(tmp, { recursive: true, force: true });
mkdirSync(tmp, { recursive: true });

await build({
  entryPoints: [join(here, 'src', 'app.js')],
  bundle: true,
  format: 'esm',
  minify: true,
  target: ['chrome110', 'firefox115', 'safari16'],
  outfile: join(tmp, 'app.js'),
  logLevel: 'warning',
});
copyFileSync(join(here, 'src', 'index.html'), join(tmp, 'index.html'));
copyFileSync(join(here, 'src', 'style.css'), join(tmp, 'style.css'));
// The plain SIMD+threads build is the one the wasm-only entry point loads (no WebGPU/JSEP variants needed).
const ortDist = join(here, 'node_modules', 'onnxruntime-web', 'dist');
for (const f of readdirSync(ortDist)) {
  if (f === 'ort-wasm-simd-threaded.wasm' || f === 'ort-wasm-simd-threaded.mjs') {
    copyFileSync(join(ortDist, f), join(tmp, f));
  }
}
// Replace dist/ in one step so a failed build never leaves a half-written one.
rmSync(out, { recursive: true, force: true });
renameSync(tmp, out);
console.log('built ' + out);
