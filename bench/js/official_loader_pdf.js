// Load a sketch-rnn-js model with the official loader, unchanged, and print its get_pdf at every step of a sketch.
//   node official_loader_pdf.js LIB_DIR MODEL.json INPUTS.json
// LIB_DIR holds sketch-rnn-js/lib/{sketch_rnn.js,numjs.js} of magenta/magenta-demos (not part of this repository);
// INPUTS.json is a list of stroke-5 rows in the model's normalised units (the decoder's input at each step).
const fs = require('fs');
const path = require('path');
const lib = process.argv[2];
global.nj = require(path.resolve(lib, 'numjs.js'));
global.atob = global.atob || (s => Buffer.from(s, 'base64').toString('binary'));
console.log = () => {};  // the loader logs its header
(0, eval)(fs.readFileSync(path.join(lib, 'sketch_rnn.js'), 'utf8') + '\nglobal.SketchRNN = SketchRNN;');
const data = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
const model = new SketchRNN(data);
const inputs = JSON.parse(fs.readFileSync(process.argv[4], 'utf8'));   // stroke-5 rows in model units
model.set_scale_factor(1.0);                                           // inputs are already normalised
let s = model.zero_state();
const out = [];
for (const x of inputs) {
  s = model.update(x, s);
  out.push(model.get_pdf(s).map(a => a.tolist()));
}
console.error(JSON.stringify({ name: model.name, mode: model.mode, steps: out.length }));
process.stdout.write(JSON.stringify(out));
