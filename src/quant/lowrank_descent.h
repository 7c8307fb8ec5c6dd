#pragma once
// The `loaq` rule's descent (issue 14; LoRaQ, Bouquet et al. 2026: a data-free branch found by
// gradient descent through its own quantizers). Its method section could not be read here, so
// the procedure below is ours, built on what its abstract states:
//   minimise  L(L1, L2) = ‖E − Q_b(L2) Q_b(L1)‖²_F                       (data-free), or
//             L(L1, L2) = tr((E − B) H (E − B)ᵀ), B = Q_b(L2) Q_b(L1)     (--lowrank-weighted),
// with Q_b the branch's per-row symmetric RTN (quant/lowrank_quant.h) and the straight-through
// estimator ∂Q_b(M)/∂M = I, so with D = E − B and G = D (or D H):
//   ∂L/∂L2 = −2 G Q_b(L1)ᵀ,   ∂L/∂L1 = −2 Q_b(L2)ᵀ G.
// Adam (Kingma & Ba 2015; β1 0.9, β2 0.999) with a step size of lr times each factor's RMS at the
// start (so that one lr fits layers of any scale), decayed to 0 on a cosine over `steps`.
// Full-batch and deterministic: the same input gives the same branch. The loss is that of the
// quantized branch, evaluated at every iterate; the best iterate is returned, so the result is
// never worse than the start. It stops after `steps` updates, or after `patience` updates without a
// new best.
#include <cstdint>

#include "core/linalg.h"
#include "core/tensor.h"
#include "quant/lowrank_quant.h"

namespace loaq {

struct DescentConfig {
  int bits = 8;       // of the branch's weights (16: no quantizer)
  int steps = 200;    // Adam updates at most
  double lr = 1e-3;   // relative step size
  int patience = 50;  // updates without a new best before stopping (0: never stop early)
};

struct DescentResult {
  LowRankFactors f;      // the best iterate (full-precision latent factors)
  double loss_init = 0;  // loss of Q_b at the start
  double loss = 0;       // loss of Q_b at the best iterate (≤ loss_init)
  int steps_run = 0;     // updates made
  int best_step = 0;     // update after which the best iterate was found (0: the start)
};

// `h` non-null: the weighted loss with H [in, in] (a sum or a mean over tokens).
DescentResult descend_lowrank(const Tensor& e, LowRankFactors init, const DescentConfig& cfg,
                              const MatD* h = nullptr);

}  // namespace loaq
