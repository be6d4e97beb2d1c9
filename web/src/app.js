// The page of `twicing export-web`: runs the exported graphs with onnxruntime-web (WebAssembly backend).
// Image runs: classify sample, drawn or uploaded images with model.onnx; fine-tune with train_step.onnx, keeping
// parameters and optimizer state as ort.Tensor objects between steps (each step's X.next becomes the next X).
// Language-model runs: generate bytes through decode.onnx with its key/value (and twicing) caches.
// window.twicing exposes the same operations to tests (the Playwright test drives them).
import * as ort from 'onnxruntime-web/wasm';

const $ = (id) => document.getElementById(id);

// A minimal module using one SIMD instruction (v128.const / i32x4.splat): validates only with SIMD support.
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8,
  0, 65, 0, 253, 15, 253, 98, 11]);

function capabilities() {
  const wasm = typeof WebAssembly === 'object';
  const simd = wasm && WebAssembly.validate(SIMD_PROBE);
  const threads = wasm && self.crossOriginIsolated === true && typeof SharedArrayBuffer !== 'undefined';
  return { wasm, simd, threads };
}

function showCapabilities(c) {
  const el = $('capabilities');
  if (!c.wasm || !c.simd) {
    el.className = 'warning';
    el.textContent = !c.wasm ? 'This browser has no WebAssembly: the models cannot run here.'
      : 'This browser lacks WebAssembly SIMD, which ONNX Runtime Web needs: the models cannot run here.';
    return false;
  }
  el.className = c.threads ? 'note' : 'warning';
  el.textContent = 'WebAssembly SIMD: available. Threads: ' + (c.threads
    ? 'available (' + ort.env.wasm.numThreads + ' used).'
    : 'unavailable (the page is not cross-origin isolated; serve it with `twicing serve-web` for COOP/COEP '
      + 'headers). Running single-threaded, which is slower.');
  return true;
}

async function fetchBytes(name) {
  const r = await fetch(name);
  if (!r.ok) {
    throw new Error(name + ': HTTP ' + r.status);
  }
  return new Uint8Array(await r.arrayBuffer());
}

async function session(name) {
  return ort.InferenceSession.create(await fetchBytes(name), { executionProviders: ['wasm'] });
}

function scalarFloat(v) {
  return new ort.Tensor('float32', Float32Array.of(v), []);
}

function scalarInt64(v) {
  return new ort.Tensor('int64', BigInt64Array.of(BigInt(v)), []);
}

function softmax(logits) {
  const m = Math.max(...logits);
  const e = logits.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

// ---- image runs ------------------------------------------------------------------------------------------

class ImageApp {
  constructor(manifest) {
    this.m = manifest;
    this.losses = [];
    this.steps = 0;
    this.fineTuned = false;
  }

  async load() {
    const m = this.m;
    this.model = await session(m.model);
    const samples = await fetchBytes(m.samples.file);
    this.samples = new Float32Array(samples.buffer, samples.byteOffset, samples.byteLength / 4);
    this.pixelsPerImage = m.samples.shape.reduce((a, b) => a * b, 1);
    const params = await fetchBytes(m.params.file);
    const all = new Float32Array(params.buffer, params.byteOffset, params.byteLength / 4);
    this.params = {};
    for (const p of m.params.tensors) {
      this.params[p.name] = new ort.Tensor('float32', all.slice(p.offset, p.offset + p.length), p.shape);
    }
    this.state = {};
    for (const s of m.state) {
      this.state[s.name] = new ort.Tensor('float32', new Float32Array(s.shape.reduce((a, b) => a * b, 1)), s.shape);
    }
  }

  image(i) {
    return this.samples.subarray(i * this.pixelsPerImage, (i + 1) * this.pixelsPerImage);
  }

  async logits(pixels) {
    const x = new ort.Tensor('float32', Float32Array.from(pixels), [1, ...this.m.samples.shape]);
    let out;
    if (this.fineTuned) {
      // model.onnx holds the exported weights as initializers; after fine-tuning, forward.onnx takes the
      // current parameter tensors as inputs instead.
      this.forward = this.forward || await session(this.m.forward);
      out = await this.forward.run({ [this.m.input]: x, ...this.params });
    } else {
      out = await this.model.run({ [this.m.input]: x });
    }
    return Array.from(out[this.m.output].data);
  }

  async predict(pixels, source) {
    const logits = await this.logits(pixels);
    const probs = softmax(logits);
    this.showPrediction(pixels, probs, source);
    return { logits, probs };
  }

  async fineTune(steps) {
    const m = this.m;
    this.trainStep = this.trainStep || await session(m.trainStep);
    const b = m.fineTune.batch;
    const x = new ort.Tensor('float32', Float32Array.from(this.samples.subarray(0, b * this.pixelsPerImage)),
      [b, ...m.samples.shape]);
    const y = new ort.Tensor('int64', BigInt64Array.from(m.samples.labels.slice(0, b).map(BigInt)), [b]);
    const lr = scalarFloat(m.fineTune.lr);
    const trace = [];
    for (let k = 0; k < steps; k++) {
      this.steps++;
      const out = await this.trainStep.run({ [m.input]: x, [m.labels]: y, lr, step: scalarInt64(this.steps),
        ...this.params, ...this.state });
      const loss = out.loss.data[0];
      trace.push(loss);
      this.losses.push(loss);
      for (const name of Object.keys(this.params)) {
        this.params[name] = out[name + '.next'];
      }
      for (const name of Object.keys(this.state)) {
        this.state[name] = out[name + '.next'];
      }
      this.fineTuned = true;
      $('ft-status').textContent = 'step ' + this.steps + ': loss ' + loss.toFixed(4);
      this.plotLoss();
      await new Promise((r) => setTimeout(r, 0)); // let the page repaint between steps
    }
    return trace;
  }

  // -- drawing -------------------------------------------------------------------------------------------

  drawImage(canvas, pixels) {
    const [c, h, w] = this.m.samples.shape;
    const off = document.createElement('canvas');
    off.width = w;
    off.height = h;
    const ctx = off.getContext('2d');
    const img = ctx.createImageData(w, h);
    for (let i = 0; i < h * w; i++) {
      const v = Math.max(0, Math.min(255, Math.round((pixels[i] * this.m.samples.std + this.m.samples.mean) * 255)));
      img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = v;
      img.data[4 * i + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    const g = canvas.getContext('2d');
    g.imageSmoothingEnabled = false;
    g.drawImage(off, 0, 0, canvas.width, canvas.height);
    return c;
  }

  showPrediction(pixels, probs, source) {
    $('pred-source').textContent = source;
    this.drawImage($('pred-image'), pixels);
    const order = probs.map((p, i) => [p, i]).sort((a, b) => b[0] - a[0]).slice(0, 5);
    $('probs').innerHTML = order.map(([p, i]) => '<tr><td>' + (this.m.classes[i] || 'class ' + i) + '</td><td>'
      + (100 * p).toFixed(1) + '%</td><td><div class="bar" style="width:' + Math.round(120 * p)
      + 'px"></div></td></tr>').join('');
  }

  plotLoss() {
    const cv = $('loss-plot');
    const g = cv.getContext('2d');
    g.fillStyle = '#fff';
    g.fillRect(0, 0, cv.width, cv.height);
    const ls = this.losses;
    if (ls.length === 0) {
      return;
    }
    const lo = Math.min(...ls);
    const hi = Math.max(...ls);
    const span = hi - lo || 1;
    g.strokeStyle = '#d62728';
    g.lineWidth = 2;
    g.beginPath();
    ls.forEach((l, i) => {
      const x = 40 + (cv.width - 50) * (ls.length === 1 ? 0.5 : i / (ls.length - 1));
      const y = 10 + (cv.height - 40) * (1 - (l - lo) / span);
      if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
    });
    g.stroke();
    g.fillStyle = '#222';
    g.font = '12px sans-serif';
    g.fillText(hi.toFixed(3), 2, 14);
    g.fillText(lo.toFixed(3), 2, cv.height - 28);
    g.fillText('training loss over ' + ls.length + ' steps', 40, cv.height - 8);
  }

  drawnPixels() {
    const [, h, w] = this.m.samples.shape;
    const src = $('draw');
    const off = document.createElement('canvas');
    off.width = w;
    off.height = h;
    const ctx = off.getContext('2d');
    ctx.drawImage(src, 0, 0, w, h);
    return this.normalise(ctx.getImageData(0, 0, w, h), false);
  }

  // Grey levels in [0, 1], inverted when the border is light (Fashion-MNIST shows light objects on black, as
  // `twicing predict --invert auto` does), then normalised like the training data.
  normalise(imageData, autoInvert) {
    const { width: w, height: h, data } = imageData;
    const grey = new Float32Array(w * h);
    for (let i = 0; i < w * h; i++) {
      grey[i] = (0.299 * data[4 * i] + 0.587 * data[4 * i + 1] + 0.114 * data[4 * i + 2]) / 255;
    }
    if (autoInvert) {
      let border = 0;
      let n = 0;
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          if (x === 0 || y === 0 || x === w - 1 || y === h - 1) {
            border += grey[y * w + x];
            n++;
          }
        }
      }
      if (border / n > 0.5) {
        for (let i = 0; i < grey.length; i++) grey[i] = 1 - grey[i];
      }
    }
    return grey.map((v) => (v - this.m.samples.mean) / this.m.samples.std);
  }

  async uploaded(file) {
    const [, h, w] = this.m.samples.shape;
    const bitmap = await createImageBitmap(file);
    const off = document.createElement('canvas');
    off.width = w;
    off.height = h;
    const ctx = off.getContext('2d');
    ctx.drawImage(bitmap, 0, 0, w, h);
    return this.normalise(ctx.getImageData(0, 0, w, h), true);
  }

  wire() {
    $('image-ui').hidden = false;
    $('ft-batch').textContent = this.m.fineTune.batch;
    const grid = $('samples');
    for (let i = 0; i < this.m.samples.count; i++) {
      const cv = document.createElement('canvas');
      cv.width = 28;
      cv.height = 28;
      cv.title = 'sample ' + i + ': ' + (this.m.classes[this.m.samples.labels[i]] || this.m.samples.labels[i]);
      this.drawImage(cv, this.image(i));
      cv.addEventListener('click', () => this.predict(this.image(i), 'sample ' + i + ' (' + cv.title.split(': ')[1]
        + ')'));
      grid.appendChild(cv);
    }
    const draw = $('draw');
    const g = draw.getContext('2d');
    const clear = () => { g.fillStyle = '#000'; g.fillRect(0, 0, draw.width, draw.height); };
    clear();
    let down = false;
    const paint = (e) => {
      if (!down) return;
      const r = draw.getBoundingClientRect();
      g.fillStyle = '#fff';
      g.beginPath();
      g.arc(e.clientX - r.left, e.clientY - r.top, 9, 0, 2 * Math.PI);
      g.fill();
    };
    draw.addEventListener('pointerdown', (e) => { down = true; paint(e); });
    draw.addEventListener('pointermove', paint);
    window.addEventListener('pointerup', () => { down = false; });
    $('clear-drawing').addEventListener('click', clear);
    $('classify-drawing').addEventListener('click', () => this.predict(this.drawnPixels(), 'your drawing'));
    $('upload').addEventListener('change', async (e) => {
      const f = e.target.files[0];
      if (f) this.predict(await this.uploaded(f), f.name);
    });
    $('fine-tune').addEventListener('click', async () => {
      const n = Math.max(1, Math.min(500, parseInt($('ft-steps').value, 10) || 5));
      $('fine-tune').disabled = true;
      try {
        await this.fineTune(n);
      } catch (err) {
        fail(err);
      } finally {
        $('fine-tune').disabled = false;
      }
    });
  }
}

// ---- language-model runs ---------------------------------------------------------------------------------

class TextApp {
  constructor(manifest) {
    this.m = manifest;
  }

  async load() {
    this.decode = await session(this.m.decode);
  }

  // Greedy (temperature 0) or sampled continuation of `prompt` by `count` bytes: one prefill call with the whole
  // prompt, then one call per byte feeding each present.* back as past.*.
  async generate(prompt, count, temperature = 0, seed = 0) {
    return new TextDecoder().decode(new Uint8Array(await this.generateBytes(prompt, count, temperature, seed)));
  }

  // The generated bytes themselves (the test compares them with Java's, byte for byte).
  async generateBytes(prompt, count, temperature = 0, seed = 0) {
    const m = this.m;
    const bytes = Array.from(new TextEncoder().encode(prompt));
    if (bytes.length === 0) {
      throw new Error('the prompt is empty');
    }
    let past = {};
    for (const c of m.cache) {
      past[c.past] = new ort.Tensor('float32', new Float32Array(0), [1, c.heads, 0, c.headDim]);
    }
    let feed = bytes;
    let pos = 0;
    const out = [];
    let rng = seed >>> 0;
    const random = () => { rng = (rng * 1664525 + 1013904223) >>> 0; return rng / 4294967296; };
    while (out.length < count && pos + feed.length <= m.context) {
      const tokens = new ort.Tensor('int64', BigInt64Array.from(feed.map(BigInt)), [1, feed.length]);
      const r = await this.decode.run({ tokens, ...past });
      const v = m.vocab;
      const logits = Array.from(r.logits.data.slice((feed.length - 1) * v, feed.length * v));
      let next = 0;
      if (temperature > 0) {
        const p = softmax(logits.map((x) => x / temperature));
        let u = random();
        next = p.length - 1;
        for (let i = 0; i < p.length; i++) { u -= p[i]; if (u <= 0) { next = i; break; } }
      } else {
        for (let i = 1; i < logits.length; i++) if (logits[i] > logits[next]) next = i;
      }
      out.push(next);
      pos += feed.length;
      const nextPast = {};
      for (const c of m.cache) {
        nextPast[c.past] = r[c.present];
      }
      past = nextPast;
      feed = [next];
    }
    return out;
  }

  wire() {
    $('text-ui').hidden = false;
    $('prompt').value = this.m.prompt || '';
    $('generate').addEventListener('click', async () => {
      $('generate').disabled = true;
      try {
        const n = Math.max(1, parseInt($('gen-tokens').value, 10) || 100);
        const t = Math.max(0, parseFloat($('gen-temperature').value) || 0);
        $('generated').textContent = $('prompt').value + await this.generate($('prompt').value, n, t);
      } catch (err) {
        fail(err);
      } finally {
        $('generate').disabled = false;
      }
    });
  }
}

function fail(err) {
  $('status').className = 'warning';
  $('status').textContent = 'Error: ' + (err && err.message ? err.message : err);
  console.error(err);
}

async function main() {
  const caps = capabilities();
  ort.env.wasm.numThreads = caps.threads ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  ort.env.wasm.wasmPaths = new URL('./', location.href).href;
  const t0 = performance.now();
  const api = { capabilities: caps, ready: false };
  window.twicing = api;
  if (!showCapabilities(caps)) {
    throw new Error('WebAssembly SIMD unavailable');
  }
  const manifest = await (await fetch('manifest.json')).json();
  $('model-name').textContent = manifest.name;
  const app = manifest.kind === 'image' ? new ImageApp(manifest) : new TextApp(manifest);
  await app.load();
  app.wire();
  api.manifest = manifest;
  api.app = app;
  if (manifest.kind === 'image') {
    api.predictSample = async (i) => app.predict(app.image(i), 'sample ' + i);
    api.fineTune = async (n) => app.fineTune(n);
    await api.predictSample(0);
  } else {
    api.generate = async (prompt, n, t, seed) => app.generate(prompt, n, t, seed);
    api.generateBytes = async (prompt, n, t, seed) => app.generateBytes(prompt, n, t, seed);
  }
  api.loadMs = performance.now() - t0;
  api.ready = true;
  $('status').textContent = 'Ready: ' + manifest.description + ' (loaded in ' + Math.round(api.loadMs) + ' ms).';
}

main().catch((err) => {
  fail(err);
  if (window.twicing) window.twicing.error = String(err && err.message ? err.message : err);
});
