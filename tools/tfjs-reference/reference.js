#!/usr/bin/env node
// Reference embeddings from the ORIGINAL TF.js models, computed by the
// pure-JavaScript TensorFlow.js CPU backend: the implementation our LibTorch
// ports (core/nn) are checked against.
//
//   node reference.js --model dlib-resnet|faceres|mobileface \
//       --assets DIR --input IN.qft --output OUT.qft
//
// IN.qft holds an N x 3 x S x S float32 tensor already normalized the way the
// model's C++ ModelSpec says (NCHW, like LibTorch); OUT.qft receives the raw
// N x D embeddings. The .qft format is tiny on purpose: "QFT1", uint32 rank,
// uint32 dims[rank], then float32 values, all little-endian.
//
// Graph models (faceres, mobileface) run through tfjs-converter's GraphModel,
// so the graph's own ops decide the function. face-api's dlib ResNet ships as
// a bare weights manifest whose forward pass lives in face-api's TypeScript
// (src/faceRecognitionNet/*.ts); dlibResnetForward() below replays those
// tfjs-core ops one for one.
'use strict';

const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const tfconv = require('@tensorflow/tfjs-converter');

function parseArgs(argv) {
  const args = {};
  for (let i = 2; i < argv.length; i += 2) {
    const key = argv[i];
    if (!key.startsWith('--') || i + 1 >= argv.length) {
      throw new Error(`bad argument '${key}'; usage: --model M --assets DIR --input IN --output OUT`);
    }
    args[key.slice(2)] = argv[i + 1];
  }
  for (const required of ['model', 'assets', 'input', 'output']) {
    if (!args[required]) throw new Error(`missing --${required}`);
  }
  return args;
}

function readQft(file) {
  const buf = fs.readFileSync(file);
  if (buf.length < 8 || buf.toString('latin1', 0, 4) !== 'QFT1') {
    throw new Error(`${file}: not a QFT1 tensor file`);
  }
  const rank = buf.readUInt32LE(4);
  const shape = [];
  for (let i = 0; i < rank; ++i) shape.push(buf.readUInt32LE(8 + 4 * i));
  const offset = 8 + 4 * rank;
  const count = shape.reduce((a, b) => a * b, 1);
  if (buf.length !== offset + 4 * count) {
    throw new Error(`${file}: ${buf.length} bytes, want ${offset + 4 * count} for shape [${shape}]`);
  }
  const values = new Float32Array(count);
  for (let i = 0; i < count; ++i) values[i] = buf.readFloatLE(offset + 4 * i);
  return tf.tensor(values, shape, 'float32');
}

function writeQft(file, tensor) {
  const shape = tensor.shape;
  const values = tensor.dataSync();
  const buf = Buffer.alloc(8 + 4 * shape.length + 4 * values.length);
  buf.write('QFT1', 0, 'latin1');
  buf.writeUInt32LE(shape.length, 4);
  shape.forEach((d, i) => buf.writeUInt32LE(d, 8 + 4 * i));
  const offset = 8 + 4 * shape.length;
  values.forEach((v, i) => buf.writeFloatLE(v, offset + 4 * i));
  fs.writeFileSync(file, buf);
}

// Reads weight shards from the local disk for tfjs's own loaders.
async function readShards(urls) {
  return urls.map((url) => {
    const bytes = fs.readFileSync(url);
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  });
}

async function loadGraphModel(modelJsonPath) {
  const modelJson = JSON.parse(fs.readFileSync(modelJsonPath, 'utf8'));
  const dir = path.dirname(modelJsonPath);
  const artifacts = await tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
    const urls = [].concat(...manifest.map((group) => group.paths.map((p) => path.join(dir, p))));
    const shards = await readShards(urls);
    return [tf.io.getWeightSpecs(manifest), tf.io.concatenateArrayBuffers(shards)];
  });
  return tfconv.loadGraphModel(tf.io.fromMemory(artifacts));
}

// --- face-api FaceRecognitionNet (src/faceRecognitionNet/*.ts) ------------

function convLayer(x, w, prefix, strides, withRelu, padding = 'same') {
  let out = tf.conv2d(x, w[`${prefix}/conv/filters`], strides, padding);
  out = tf.add(out, w[`${prefix}/conv/bias`]);
  out = tf.add(tf.mul(out, w[`${prefix}/scale/weights`]), w[`${prefix}/scale/biases`]);
  return withRelu ? tf.relu(out) : out;
}
const conv = (x, w, p) => convLayer(x, w, p, [1, 1], true);
const convNoRelu = (x, w, p) => convLayer(x, w, p, [1, 1], false);
const convDown = (x, w, p) => convLayer(x, w, p, [2, 2], true, 'valid');

function residual(x, w, prefix) {
  let out = conv(x, w, `${prefix}/conv1`);
  out = convNoRelu(out, w, `${prefix}/conv2`);
  return tf.relu(tf.add(out, x));
}

function residualDown(x, w, prefix) {
  let out = convDown(x, w, `${prefix}/conv1`);
  out = convNoRelu(out, w, `${prefix}/conv2`);
  let pooled = tf.avgPool(x, 2, 2, 'valid');
  const zeros = tf.zeros(pooled.shape);
  const isPad = pooled.shape[3] !== out.shape[3];
  const isAdjustShape = pooled.shape[1] !== out.shape[1] || pooled.shape[2] !== out.shape[2];
  if (isAdjustShape) {
    const padShapeX = [...out.shape];
    padShapeX[1] = 1;
    out = tf.concat([out, tf.zeros(padShapeX)], 1);
    const padShapeY = [...out.shape];
    padShapeY[2] = 1;
    out = tf.concat([out, tf.zeros(padShapeY)], 2);
  }
  pooled = isPad ? tf.concat([pooled, zeros], 3) : pooled;
  return tf.relu(tf.add(pooled, out));
}

// `normalized` is NHWC, already (p - mean) / 255 as in forwardInput().
function dlibResnetForward(normalized, w) {
  let out = convDown(normalized, w, 'conv32_down');
  out = tf.maxPool(out, 3, 2, 'valid');
  out = residual(out, w, 'conv32_1');
  out = residual(out, w, 'conv32_2');
  out = residual(out, w, 'conv32_3');
  out = residualDown(out, w, 'conv64_down');
  out = residual(out, w, 'conv64_1');
  out = residual(out, w, 'conv64_2');
  out = residual(out, w, 'conv64_3');
  out = residualDown(out, w, 'conv128_down');
  out = residual(out, w, 'conv128_1');
  out = residual(out, w, 'conv128_2');
  out = residualDown(out, w, 'conv256_down');
  out = residual(out, w, 'conv256_1');
  out = residual(out, w, 'conv256_2');
  out = residualDown(out, w, 'conv256_down_out');
  const globalAvg = tf.mean(out, [1, 2]);
  return tf.matMul(globalAvg, w.fc);
}

// --- models -----------------------------------------------------------------

const MODELS = {
  'dlib-resnet': async (assets) => {
    const dir = path.join(assets, 'dlib-resnet');
    const manifest = JSON.parse(
        fs.readFileSync(path.join(dir, 'face_recognition_model-weights_manifest.json'), 'utf8'));
    // The same loader face-api uses (tf.io.loadWeights), fed from disk.
    const load = tf.io.weightsLoaderFactory(readShards);
    const weights = await load(manifest, dir + path.sep);
    return (nhwc) => dlibResnetForward(nhwc, weights);
  },
  'faceres': async (assets) => {
    const model = await loadGraphModel(path.join(assets, 'faceres', 'faceres.json'));
    return (nhwc) => model.execute(nhwc, 'global_pooling/Mean');
  },
  'mobileface': async (assets) => {
    const model = await loadGraphModel(path.join(assets, 'mobileface', 'mobileface.json'));
    return (nhwc) => model.execute(nhwc, 'batchnorm0/add_1');
  },
};

async function main() {
  const args = parseArgs(process.argv);
  const build = MODELS[args.model];
  if (!build) throw new Error(`unknown model '${args.model}'; known: ${Object.keys(MODELS)}`);
  await tf.setBackend('cpu');
  await tf.ready();
  const forward = await build(args.assets);
  const nchw = readQft(args.input);
  if (nchw.rank !== 4 || nchw.shape[1] !== 3) {
    throw new Error(`input must be N x 3 x S x S, got [${nchw.shape}]`);
  }
  const embeddings = tf.tidy(() => forward(tf.transpose(nchw, [0, 2, 3, 1])));
  writeQft(args.output, embeddings);
}

main().catch((err) => {
  console.error(`tfjs-reference: ${err.stack || err}`);
  process.exit(1);
});
