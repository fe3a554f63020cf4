import CKernels

/// Which implementation writes the f32 chunks of a magnitude-pruned tensor. All of them give
/// the same bytes and the same figures (PruningKernelTests compares them); only speed differs.
public enum PruneKernel: Sendable, CaseIterable {
    /// The plain per-element loop, the twin the fast paths are tested against.
    case reference
    /// The Swift SIMD loop, eight lanes at a time.
    case simd
    /// The AVX2 C kernel for sparse output (falls back to `simd` on CPUs without AVX2).
    case avx2

    /// The fastest kernel this CPU runs.
    public static let fastest: PruneKernel = PruneKernels.avx2Available ? .avx2 : .simd
}

/// The bridge to the CKernels C library: the only file that touches its API.
enum PruneKernels {
    /// Whether the AVX2 kernels can run on this CPU.
    static let avx2Available = aic_avx2_available() != 0

    /// Where the AVX2 kernel stopped in a chunk, and what it counted.
    struct State {
        var k: Int
        var slot: Int
        var ties: Int
        var keptZeros = 0
        var signal = 0.0
        var error = 0.0
        var maxAbs: Float = 0
    }

    /// Writes groups of eight elements from `state.k` while a whole group fits before `end` and
    /// its kept values fit before `slotEnd` (see `aic_prune_f32_sparse_avx2`). Requires
    /// `avx2Available`.
    static func sparseF32(bits: UnsafePointer<UInt32>, end: Int, threshold: UInt32, maskBytes: UnsafeMutablePointer<UInt8>,
                          values: UnsafeMutablePointer<UInt32>, slotEnd: Int, state: inout State) {
        var st = aic_prune_state(k: Int64(state.k), slot: Int64(state.slot), ties: Int64(state.ties), keptZeros: 0,
                                 signal: 0, error: 0, maxAbs: 0)
        aic_prune_f32_sparse_avx2(bits, Int64(end), threshold, maskBytes, values, Int64(slotEnd), &st)
        state = State(k: Int(st.k), slot: Int(st.slot), ties: Int(st.ties), keptZeros: Int(st.keptZeros),
                      signal: st.signal, error: st.error, maxAbs: st.maxAbs)
    }

    /// The N:M writer for m = 1, 2, 4 or 8 (see `aic_prune_nm_f32_sparse_avx2`): groups of eight
    /// elements from `state.k` (a multiple of 8) while they fit before `end` and `slotEnd`.
    /// Requires `avx2Available`.
    static func nmSparseF32(bits: UnsafePointer<UInt32>, end: Int, n: Int, m: Int, maskBytes: UnsafeMutablePointer<UInt8>,
                            values: UnsafeMutablePointer<UInt32>, slotEnd: Int, state: inout State) {
        var st = aic_prune_state(k: Int64(state.k), slot: Int64(state.slot), ties: 0, keptZeros: Int64(state.keptZeros),
                                 signal: state.signal, error: state.error, maxAbs: state.maxAbs)
        aic_prune_nm_f32_sparse_avx2(bits, Int64(end), Int32(n), Int32(m), maskBytes, values, Int64(slotEnd), &st)
        state = State(k: Int(st.k), slot: Int(st.slot), ties: 0, keptZeros: Int(st.keptZeros),
                      signal: st.signal, error: st.error, maxAbs: st.maxAbs)
    }
}
