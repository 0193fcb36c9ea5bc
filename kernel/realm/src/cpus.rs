// How many CPUs the RMM keeps a stack for. Shared by the kernel (`mod
// cpus`) and build.rs (`include!`, for the linker script's stack area), so
// that both count the same.

/// The CPU count TF-A's BL31 announces to the RMM at cold boot (x2) on
/// QEMU virt: its `PLATFORM_CORE_COUNT`, 2 clusters of 16
/// (plat/qemu/qemu/include/platform_def.h, `PLATFORM_CLUSTER_COUNT` and
/// `PLATFORM_CPU_PER_CLUSTER_SHIFT`, v2.14 and v2.15), whatever `-smp` is.
pub const TF_A_QEMU_CORE_COUNT: usize = 32;

/// CPUs the RMM has stacks for: the most EL3 may announce at cold boot
/// (comms spec, "Cold boot": a larger count is E_RMM_BOOT_CPUS_OUT_OF_RANGE).
/// The board's count, and on qemu-virt at least TF-A's, so that the same
/// image boots under Rampart's root and under TF-A's BL31. CPU indices
/// above the machine's cores are never entered.
pub const fn rmm_max_cpus(board_cpus: usize, qemu_virt: bool) -> usize {
    if qemu_virt && board_cpus < TF_A_QEMU_CORE_COUNT {
        TF_A_QEMU_CORE_COUNT
    } else {
        board_cpus
    }
}
