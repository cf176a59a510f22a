// Running totals that the loss kernels accumulate on the device during an epoch and the host reads once at its end
// (or asynchronously for the progress bar): a float tensor of kTotalsSlots elements.
#pragma once

namespace loom {

enum TotalsSlot : int { kLossSum = 0, kCorrectCount = 1, kTotalsSlots = 2 };

}  // namespace loom
