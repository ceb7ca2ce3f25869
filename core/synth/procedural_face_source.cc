#include "core/synth/procedural_face_source.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <memory>
#include <vector>

#include "core/synth/pixel_normalization.h"

namespace qf::synth {
namespace {

namespace F = torch::nn::functional;
using torch::indexing::Slice;

// Draws every random parameter of a batch and paints soft-edged shapes onto
// N x 3 x S x S canvases. Per-face parameters are [N] tensors, broadcast as
// N x 1 x 1 x 1 against the pixel grid, so one batch is painted with a few
// dozen whole-batch tensor operations rather than per-face loops.
class FacePainter {
 public:
  FacePainter(int64_t n, int64_t size, torch::Generator& random)
      : n_(n), size_(size), random_(random) {
    const torch::Tensor axis = torch::arange(size, torch::kFloat) + 0.5f;
    x_ = axis.view({1, 1, 1, size});
    y_ = axis.view({1, 1, size, 1});
  }

  int64_t n() const { return n_; }
  int64_t size() const { return size_; }
  const torch::Tensor& x() const { return x_; }
  const torch::Tensor& y() const { return y_; }

  // [N] uniform in [lo, hi).
  torch::Tensor Uniform(double lo, double hi) {
    return torch::empty({n_}, torch::kFloat).uniform_(lo, hi, random_);
  }
  // i.i.d. N(0, 1) of the given shape.
  torch::Tensor Gaussian(at::IntArrayRef shape) {
    return at::normal(0.0, 1.0, shape, random_, torch::kFloat);
  }
  // [N] 1.0 with probability p, else 0.0.
  torch::Tensor Chance(double p) { return (Uniform(0, 1) < p).to(torch::kFloat); }
  // [N] +1 or -1.
  torch::Tensor Sign() { return Chance(0.5) * 2 - 1; }

  // N x 3 x 1 x 1: `base` (RGB) plus uniform jitter of +-spread per channel.
  torch::Tensor Color(const std::vector<float>& base, double spread) {
    const torch::Tensor jitter =
        torch::empty({n_, 3}, torch::kFloat).uniform_(-spread, spread, random_);
    return (torch::tensor(base).view({1, 3}) + jitter).view({n_, 3, 1, 1});
  }
  // N x 3 x 1 x 1: one of `palette` (RGB rows) per face, jittered.
  torch::Tensor PaletteColor(const std::vector<std::vector<float>>& palette, double spread) {
    std::vector<float> flat;
    for (const auto& row : palette) flat.insert(flat.end(), row.begin(), row.end());
    const torch::Tensor table = torch::tensor(flat).view({static_cast<int64_t>(palette.size()), 3});
    const torch::Tensor pick =
        torch::randint(0, static_cast<int64_t>(palette.size()), {n_}, random_, torch::kLong);
    const torch::Tensor jitter =
        torch::empty({n_, 3}, torch::kFloat).uniform_(-spread, spread, random_);
    return (table.index_select(0, pick) + jitter).view({n_, 3, 1, 1});
  }

  // N x channels x S x S smooth random field with roughly unit standard
  // deviation and a 1/f-like spectrum: octaves of bilinearly upsampled
  // Gaussian grids, each finer octave at half the amplitude.
  torch::Tensor Texture(int64_t channels, int64_t coarsest = 3, int octaves = 5) {
    torch::Tensor field = torch::zeros({n_, channels, size_, size_});
    double amplitude = 1.0;
    double total = 0;
    int64_t cells = coarsest;
    for (int octave = 0; octave < octaves && cells <= size_; ++octave) {
      const torch::Tensor grid = Gaussian({n_, channels, cells, cells});
      field += amplitude * F::interpolate(grid, F::InterpolateFuncOptions()
                                                    .size(std::vector<int64_t>{size_, size_})
                                                    .mode(torch::kBilinear)
                                                    .align_corners(true));
      total += amplitude * amplitude;
      amplitude *= 0.5;
      cells *= 2;
    }
    return field / std::sqrt(total);
  }

  // N x 1 x S x S coverage of an ellipse centred at (cx, cy) with semi-axes
  // (ax, ay), rotated by `angle` radians, with an edge about `edge` pixels
  // wide (anti-aliasing, so no shape has a perfectly sharp step).
  torch::Tensor Ellipse(const torch::Tensor& cx, const torch::Tensor& cy, const torch::Tensor& ax,
                        const torch::Tensor& ay, const torch::Tensor& angle = {},
                        double edge = 0.8) const {
    const torch::Tensor dx = x_ - Col(cx);
    const torch::Tensor dy = y_ - Col(cy);
    torch::Tensor u = dx, v = dy;
    if (angle.defined()) {
      const torch::Tensor c = Col(torch::cos(angle)), s = Col(torch::sin(angle));
      u = dx * c + dy * s;
      v = dy * c - dx * s;
    }
    const torch::Tensor a = Col(ax.clamp_min(0.5)), b = Col(ay.clamp_min(0.5));
    // Signed distance to the outline, estimated twice: to first order,
    // f / |grad f| with f = (u/a)^2 + (v/b)^2 - 1, and along the ray from the
    // centre, |p| (1 - 1/r). The first alone fades thin ellipses out along
    // their length into long faint lines; the second alone is poor beside
    // the short axis; the larger of the two is close everywhere.
    const torch::Tensor f = (u / a).square() + (v / b).square() - 1;
    const torch::Tensor grad =
        2 * torch::sqrt((u / a.square()).square() + (v / b.square()).square() + 1e-12);
    const torch::Tensor r = torch::sqrt(f + 1 + 1e-12);
    const torch::Tensor radial = torch::sqrt(u.square() + v.square()) * (1 - 1 / r);
    return torch::sigmoid(-torch::maximum(f / grad, radial) / edge);
  }

  // Blends `color` (N x 3 x 1 x 1 or N x 3 x S x S) onto `image` where
  // `mask` (N x 1 x S x S) covers it, scaled by `alpha` ([N], optional).
  static void Paint(torch::Tensor& image, const torch::Tensor& mask, const torch::Tensor& color,
                    const torch::Tensor& alpha = {}) {
    const torch::Tensor weight = alpha.defined() ? mask * Col(alpha) : mask;
    image = image + weight * (color - image);
  }

  // [N] -> N x 1 x 1 x 1.
  static torch::Tensor Col(const torch::Tensor& t) { return t.view({-1, 1, 1, 1}); }

 private:
  const int64_t n_;
  const int64_t size_;
  torch::Generator& random_;
  torch::Tensor x_, y_;
};

// The face's five points for each image: the model's template, scaled by
// `scale` about its centre, moved by `shift`, each point jittered.
struct Landmarks {
  torch::Tensor eye_x[2], eye_y[2], nose_x, nose_y, mouth_x[2], mouth_y[2];
  torch::Tensor eye_distance;  // [N], pixels.
};

Landmarks DrawLandmarks(FacePainter& p, const nn::LandmarkTemplate& tmpl) {
  const auto& t = tmpl.points;
  const float d0 = t[1][0] - t[0][0];
  const torch::Tensor scale = p.Uniform(0.88, 1.1);
  const float cx = (t[0][0] + t[1][0]) / 2, cy = (t[0][1] + t[4][1]) / 2;
  const torch::Tensor jitter_unit = scale * d0;
  const auto point = [&](int i, int axis) {
    const float centre = axis == 0 ? cx : cy;
    return centre + (t[i][axis] - centre) * scale + p.Uniform(-0.05, 0.05) * jitter_unit;
  };
  Landmarks l;
  for (int side = 0; side < 2; ++side) {
    l.eye_x[side] = point(side, 0);
    l.eye_y[side] = point(side, 1);
    l.mouth_x[side] = point(3 + side, 0);
    l.mouth_y[side] = point(3 + side, 1);
  }
  l.nose_x = point(2, 0);
  l.nose_y = point(2, 1);
  l.eye_distance = l.eye_x[1] - l.eye_x[0];
  // Yaw: nose and mouth move sideways more than the eyes.
  const torch::Tensor yaw = p.Uniform(-0.3, 0.3) * l.eye_distance;
  l.nose_x = l.nose_x + 0.45 * yaw;
  for (int side = 0; side < 2; ++side) l.mouth_x[side] = l.mouth_x[side] + 0.25 * yaw;
  return l;
}

torch::Tensor Render(FacePainter& p, const nn::LandmarkTemplate& tmpl) {
  using FP = FacePainter;
  const int64_t s = p.size();
  const Landmarks l = DrawLandmarks(p, tmpl);
  const torch::Tensor& d = l.eye_distance;
  const torch::Tensor eyes_x = (l.eye_x[0] + l.eye_x[1]) / 2;
  const torch::Tensor eyes_y = (l.eye_y[0] + l.eye_y[1]) / 2;
  const torch::Tensor mouth_x = (l.mouth_x[0] + l.mouth_x[1]) / 2;
  const torch::Tensor mouth_y = (l.mouth_y[0] + l.mouth_y[1]) / 2;
  const torch::Tensor mouth_half = (l.mouth_x[1] - l.mouth_x[0]) / 2;
  const torch::Tensor none;

  // Background: a colour with a smooth texture of random strength.
  torch::Tensor image =
      p.Color({128, 128, 128}, 110) + FP::Col(p.Uniform(5, 45)) * p.Texture(3, 2, 6);

  // Skin: from dark to light along a typical tone line, then jittered.
  const torch::Tensor tone = FP::Col(p.Uniform(0, 1));
  const torch::Tensor skin = torch::tensor({75.f, 48.f, 35.f}).view({1, 3, 1, 1}) * (1 - tone) +
                             torch::tensor({240.f, 205.f, 180.f}).view({1, 3, 1, 1}) * tone +
                             p.Color({0, 0, 0}, 14);
  const torch::Tensor hair = p.PaletteColor(
      {{22, 18, 16}, {60, 40, 28}, {110, 75, 45}, {190, 160, 110}, {150, 150, 150}, {130, 60, 30}},
      15);

  // Face oval around the landmarks.
  // Under yaw the oval moves against the nose.
  const torch::Tensor face_x = eyes_x - 0.15 * (l.nose_x - eyes_x);
  const torch::Tensor face_a = d * p.Uniform(1.0, 1.3);
  const torch::Tensor face_b = face_a * p.Uniform(1.2, 1.45);
  const torch::Tensor face_y = eyes_y + 0.25 * (mouth_y - eyes_y) + p.Uniform(-0.05, 0.1) * d;
  const torch::Tensor chin_y = face_y + face_b;

  // Clothes and neck below the chin.
  FP::Paint(image,
            p.Ellipse(face_x + p.Uniform(-0.1, 0.1) * s, chin_y + d * p.Uniform(0.9, 1.4),
                      d * p.Uniform(2.2, 3.2), d * p.Uniform(0.9, 1.3)),
            p.Color({128, 128, 128}, 120) + FP::Col(p.Uniform(2, 20)) * p.Texture(3, 4, 4));
  FP::Paint(image, p.Ellipse(face_x, chin_y, d * p.Uniform(0.5, 0.7), d * p.Uniform(0.6, 1.0)),
            skin * 0.8);

  // Hair behind the head, ears, then the face itself with a lighting
  // gradient and a faint skin texture.
  const torch::Tensor has_hair = p.Chance(0.85);
  const torch::Tensor hair_textured = hair + FP::Col(p.Uniform(4, 25)) * p.Texture(1, 6, 4);
  FP::Paint(image,
            p.Ellipse(face_x, face_y - face_b * p.Uniform(0.05, 0.3),
                      face_a * p.Uniform(1.05, 1.45), face_b * p.Uniform(0.95, 1.25)),
            hair_textured, has_hair);
  for (int side = 0; side < 2; ++side) {
    const double sign = side == 0 ? -1 : 1;
    FP::Paint(image,
              p.Ellipse(face_x + sign * face_a * 0.97, eyes_y + 0.35 * d, d * p.Uniform(0.12, 0.2),
                        d * p.Uniform(0.25, 0.38)),
              skin * 0.92);
  }
  const torch::Tensor light =
      1 + FP::Col(p.Uniform(-0.35, 0.35)) * (p.x() - FP::Col(face_x)) / FP::Col(face_a) +
      FP::Col(p.Uniform(-0.25, 0.15)) * (p.y() - FP::Col(face_y)) / FP::Col(face_b);
  const torch::Tensor face_mask = p.Ellipse(face_x, face_y, face_a, face_b);
  FP::Paint(image, face_mask, skin * light + FP::Col(p.Uniform(1, 8)) * p.Texture(3, 8, 3));

  // Hair over the forehead down to a random hair line.
  const torch::Tensor hair_line = eyes_y - d * p.Uniform(0.45, 1.1);
  const torch::Tensor above_line =
      torch::sigmoid((FP::Col(hair_line) - p.y() + 4 * torch::sin(p.x() / 7)) / 2.5);
  FP::Paint(image, p.Ellipse(face_x, face_y, face_a * 1.03, face_b * 1.03) * above_line,
            hair_textured, has_hair);

  // Beard on some faces.
  const torch::Tensor below_nose = torch::sigmoid((p.y() - FP::Col(l.nose_y + 0.15 * d)) / 3.0);
  FP::Paint(image, face_mask * below_nose, hair_textured, p.Chance(0.15) * p.Uniform(0.5, 0.95));

  // Eyes: socket shadow, sclera, iris, pupil, lid; brows above.
  const torch::Tensor iris = p.PaletteColor(
      {{60, 35, 20}, {35, 22, 15}, {70, 100, 140}, {80, 110, 70}, {110, 80, 45}}, 12);
  const torch::Tensor eye_a = d * p.Uniform(0.17, 0.24);
  const torch::Tensor eye_b = eye_a * p.Uniform(0.3, 0.55);
  const torch::Tensor gaze_x = d * p.Uniform(-0.05, 0.05);
  const torch::Tensor gaze_y = d * p.Uniform(-0.02, 0.02);
  const torch::Tensor brow_lift = d * p.Uniform(0.2, 0.33);
  const torch::Tensor brow_a = d * p.Uniform(0.2, 0.3);
  const torch::Tensor brow_b = d * p.Uniform(0.03, 0.08);
  const torch::Tensor brow_tilt = p.Uniform(-0.25, 0.15);
  const torch::Tensor brow_alpha = p.Uniform(0.5, 1.0);
  const torch::Tensor sclera = p.Color({225, 220, 210}, 20);
  for (int side = 0; side < 2; ++side) {
    const double sign = side == 0 ? 1 : -1;
    const torch::Tensor& ex = l.eye_x[side];
    const torch::Tensor& ey = l.eye_y[side];
    FP::Paint(image, p.Ellipse(ex, ey, eye_a * 1.5, eye_b * 2.2, none, 3.0), skin * 0.75,
              p.Uniform(0.2, 0.6));
    const torch::Tensor eye_mask = p.Ellipse(ex, ey, eye_a, eye_b);
    FP::Paint(image, eye_mask, sclera);
    const torch::Tensor iris_r = eye_b * 1.1;
    FP::Paint(image, eye_mask * p.Ellipse(ex + gaze_x, ey + gaze_y, iris_r, iris_r), iris);
    FP::Paint(image, eye_mask * p.Ellipse(ex + gaze_x, ey + gaze_y, iris_r * 0.4, iris_r * 0.4),
              p.Color({15, 12, 12}, 8));
    FP::Paint(image, p.Ellipse(ex, ey - eye_b * 0.8, eye_a * 1.05, d * 0.025), skin * 0.35,
              p.Uniform(0.4, 0.9));
    FP::Paint(image,
              p.Ellipse(ex + sign * d * 0.02, ey - brow_lift, brow_a, brow_b, sign * brow_tilt),
              hair, brow_alpha);
  }

  // Nose: a shaded side of the bridge, a lit tip, two nostrils.
  const torch::Tensor shade_side = p.Sign();
  FP::Paint(image,
            p.Ellipse(l.nose_x + shade_side * 0.09 * d, (eyes_y + l.nose_y) / 2, d * 0.06,
                      (l.nose_y - eyes_y) * 0.55, none, 2.5),
            skin * 0.7, p.Uniform(0.2, 0.6));
  FP::Paint(image, p.Ellipse(l.nose_x, l.nose_y - 0.06 * d, d * 0.09, d * 0.08, none, 2.5),
            skin * 1.12, p.Uniform(0.1, 0.5));
  for (int side = 0; side < 2; ++side) {
    const double sign = side == 0 ? -1 : 1;
    FP::Paint(image,
              p.Ellipse(l.nose_x + sign * d * p.Uniform(0.09, 0.14), l.nose_y + 0.03 * d, d * 0.06,
                        d * 0.035),
              skin * 0.3, p.Uniform(0.5, 0.9));
  }

  // Mouth: lips, then the opening (teeth on some faces), corners pulled by
  // the landmark jitter into a slight tilt.
  const torch::Tensor mouth_tilt = torch::atan2(l.mouth_y[1] - l.mouth_y[0], mouth_half * 2);
  const torch::Tensor lips =
      skin * torch::tensor({0.85f, 0.55f, 0.55f}).view({1, 3, 1, 1}) + p.Color({20, 0, 0}, 12);
  FP::Paint(image, p.Ellipse(mouth_x, mouth_y, mouth_half, d * p.Uniform(0.1, 0.2), mouth_tilt),
            lips);
  const torch::Tensor opening = d * p.Uniform(0.01, 0.1);
  FP::Paint(image, p.Ellipse(mouth_x, mouth_y, mouth_half * 0.95, opening, mouth_tilt),
            p.Color({40, 15, 15}, 15));
  FP::Paint(
      image,
      p.Ellipse(mouth_x, mouth_y - opening * 0.4, mouth_half * 0.7, opening * 0.45, mouth_tilt),
      p.Color({225, 220, 205}, 20), p.Chance(0.3));

  // Glasses on some faces: two rims and a bridge.
  const torch::Tensor glasses = p.Chance(0.2) * p.Uniform(0.7, 1.0);
  const torch::Tensor rim = p.PaletteColor({{20, 20, 20}, {90, 60, 30}, {170, 170, 175}}, 10);
  const torch::Tensor rim_a = d * p.Uniform(0.33, 0.42), rim_b = d * p.Uniform(0.22, 0.3);
  const torch::Tensor rim_w = d * p.Uniform(0.025, 0.05);
  for (int side = 0; side < 2; ++side) {
    const torch::Tensor outer = p.Ellipse(l.eye_x[side], l.eye_y[side], rim_a, rim_b);
    const torch::Tensor inner =
        p.Ellipse(l.eye_x[side], l.eye_y[side], rim_a - rim_w, rim_b - rim_w);
    FP::Paint(image, (outer - inner).clamp_min(0), rim, glasses);
  }
  FP::Paint(image, p.Ellipse(eyes_x, eyes_y - 0.05 * d, d * 0.15, rim_w * 0.6), rim, glasses);

  // Camera: in-plane rotation, scale and shift (alignment error), lighting,
  // colour cast, blur, sensor noise; clamp; mirror half the faces.
  const torch::Tensor angle = p.Uniform(-0.2, 0.2);
  const torch::Tensor zoom = p.Uniform(0.92, 1.08);
  const torch::Tensor theta = torch::stack(
      {torch::stack({torch::cos(angle) * zoom, -torch::sin(angle) * zoom, p.Uniform(-0.06, 0.06)},
                    1),
       torch::stack({torch::sin(angle) * zoom, torch::cos(angle) * zoom, p.Uniform(-0.06, 0.06)},
                    1)},
      1);
  const torch::Tensor grid = F::affine_grid(theta, {p.n(), 3, s, s}, /*align_corners=*/false);
  image = F::grid_sample(image, grid,
                         F::GridSampleFuncOptions()
                             .mode(torch::kBilinear)
                             .padding_mode(torch::kBorder)
                             .align_corners(false));
  const torch::Tensor contrast = FP::Col(p.Uniform(0.6, 1.25));
  const torch::Tensor brightness = FP::Col(p.Uniform(-35, 35));
  image = (image - 128) * contrast + 128 + brightness + p.Color({0, 0, 0}, 18);
  // Blur: each face mixes in a random share of a copy down- and re-sampled
  // at half resolution (a per-face Gaussian would need one conv per face).
  const auto resized = [](const torch::Tensor& t, int64_t side) {
    return F::interpolate(t, F::InterpolateFuncOptions()
                                 .size(std::vector<int64_t>{side, side})
                                 .mode(torch::kBilinear)
                                 .align_corners(false));
  };
  image = image + FP::Col(p.Uniform(0, 1)) * (resized(resized(image, s / 2), s) - image);
  image = image + FP::Col(p.Uniform(0, 6)) * p.Gaussian({p.n(), 3, s, s});
  image = image.clamp(0, 255);
  const torch::Tensor mirror = p.Chance(0.5).view({-1, 1, 1, 1});
  return mirror * image.flip({3}) + (1 - mirror) * image;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ProceduralFaceSource>> ProceduralFaceSource::Create(
    const nn::InputSpec& input, uint64_t seed) {
  const auto& points = input.landmark_template.points;
  if (!(points[1][0] > points[0][0])) {
    return absl::InvalidArgumentError(
        "rendered faces need the model's landmark template, and this model has none");
  }
  return std::make_unique<ProceduralFaceSource>(PassKey(), input, seed);
}

ProceduralFaceSource::ProceduralFaceSource(PassKey, const nn::InputSpec& input, uint64_t seed)
    : input_(input), seed_(seed), random_(at::detail::createCPUGenerator(seed)) {}

torch::Tensor ProceduralFaceSource::RenderPixels(int64_t n) {
  torch::NoGradGuard no_grad;
  FacePainter painter(n, input_.size, random_);
  return Render(painter, input_.landmark_template);
}

torch::Tensor ProceduralFaceSource::NextBatch(int64_t batch_size) {
  torch::Tensor pixels = RenderPixels(batch_size);
  if (input_.channel_order == nn::ChannelOrder::kBgr) pixels = pixels.flip({1});
  return NormalizePixels(pixels, input_);
}

nlohmann::json ProceduralFaceSource::SpecFor(const nn::InputSpec& input, uint64_t seed) {
  return {{"kind", "procedural-faces"}, {"size", input.size}, {"seed", seed}, {"version", 1}};
}

}  // namespace qf::synth
