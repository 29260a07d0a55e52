import COpenBLAS

/// The process's policy for large allocations (glibc).
///
/// glibc serves every allocation of 128 KiB and more — kernels, Gram factors, Lanczos bases,
/// network caches — with fresh `mmap`'d pages and unmaps them on free, so code that builds
/// and drops the same large buffers repeatedly (a training-loop callback forming a kernel per
/// record) pays the page faults every time: measured ~35 ms of a 130 ms record on a 1000²
/// kernel (kernel formation 86 → 38 ms with freed memory kept).
public enum AllocationPolicy {
    /// Keeps freed memory in the process for reuse: blocks up to 32 MiB (glibc's largest mmap
    /// threshold) come from the heap, 256 MiB of free heap top is kept before trimming, and
    /// the heap grows in 64 MiB steps. The resident size then no longer shrinks after large
    /// frees. The `ntk-spectra` tool calls this at start; a host process embedding the monitor
    /// may call it too. Returns whether glibc accepted all three settings (false elsewhere).
    @discardableResult
    public static func keepFreedMemory() -> Bool {
        #if canImport(Glibc)
        let threshold = mallopt(M_MMAP_THRESHOLD, 32 << 20)
        let trim = mallopt(M_TRIM_THRESHOLD, 256 << 20)
        let pad = mallopt(M_TOP_PAD, 64 << 20)
        return threshold == 1 && trim == 1 && pad == 1
        #else
        return false
        #endif
    }
}
