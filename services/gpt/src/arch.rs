//! The architecture seen by the GPT manager: the operations the EL3 kernel
//! performs for it ([`GpcOps`]) and the bit layouts of registers, operands
//! and GPT descriptors.
//!
//! Sources: Arm DDI0615 (RME system architecture supplement; the same text now
//! lives in the Arm ARM DDI0487, chapter D9 "The Granule Protection Check"):
//! sections "GPT formats", "GPI field encoding in GPT descriptors", "GPT lookup
//! process", "GPCCR_EL3", "GPTBR_EL3", "DC CIPAPA", "TLBI RPALOS".

use rampart_board::Gpi;
use rampart_ipc::gpt::Pas;

/// Architecture operations, implemented by the EL3 kernel (inline assembly)
/// and by a recording fake in tests.
///
/// Every method must act as a compiler memory barrier (an `asm!` block
/// without the `nomem`/`readonly` options), so that the manager's stores to
/// the table memory are emitted before the barrier or maintenance operation
/// that follows them in program order.
pub trait GpcOps {
    /// `MSR GPTBR_EL3, <value>`.
    fn write_gptbr_el3(&mut self, value: u64);
    /// `MSR GPCCR_EL3, <value>`.
    fn write_gpccr_el3(&mut self, value: u64);
    /// `MRS <Xt>, GPCCR_EL3` (the manager reads the read-only L0GPTSZ field).
    fn read_gpccr_el3(&mut self) -> u64;
    /// `DSB OSH`.
    fn dsb_osh(&mut self);
    /// `DSB SY`.
    fn dsb_sy(&mut self);
    /// `ISB`.
    fn isb(&mut self);
    /// `TLBI PAALLOS`: invalidate all cached GPT information, Outer Shareable.
    fn tlbi_paallos(&mut self);
    /// `TLBI RPALOS, <Xt>` with `operand` already encoded
    /// ([`tlbi_rpalos_operand`]).
    fn tlbi_rpalos(&mut self, operand: u64);
    /// `DC CIPAPA, <Xt>` on the one cache line that holds the address in
    /// `operand` ([`dc_cipapa_operand`]). On a PE with FEAT_MTE2 the kernel
    /// issues `DC CIGDPAPA` instead (same operand), as TF-A's
    /// `flush_page_to_popa` does, so that allocation tags are cleaned too.
    fn dc_cipapa(&mut self, operand: u64);
    /// Size in bytes of the smallest data cache line: `4 << CTR_EL0.DminLine`.
    /// The manager steps `dc_cipapa` through a granule by this amount.
    fn dcache_line_size(&self) -> u64;
    /// `DSB OSHST`. TF-A issues it after each GPT store; the default uses the
    /// stronger `DSB OSH`, which is always correct.
    fn dsb_oshst(&mut self) {
        self.dsb_osh();
    }
}

/// GPCCR_EL3.PPS, bits \[2:0\].
pub const GPCCR_PPS_SHIFT: u32 = 0;
/// GPCCR_EL3.IRGN, bits \[9:8\]: GPT fetch inner cacheability.
pub const GPCCR_IRGN_SHIFT: u32 = 8;
/// GPCCR_EL3.ORGN, bits \[11:10\]: GPT fetch outer cacheability.
pub const GPCCR_ORGN_SHIFT: u32 = 10;
/// GPCCR_EL3.SH, bits \[13:12\]: GPT fetch shareability.
pub const GPCCR_SH_SHIFT: u32 = 12;
/// GPCCR_EL3.PGS, bits \[15:14\]: physical granule size (0b00 = 4 KB).
pub const GPCCR_PGS_SHIFT: u32 = 14;
/// GPCCR_EL3.GPC, bit \[16\]: granule protection checks enabled.
pub const GPCCR_GPC: u64 = 1 << 16;
/// GPCCR_EL3.L0GPTSZ, bits \[23:20\], read-only.
pub const GPCCR_L0GPTSZ_SHIFT: u32 = 20;
/// IRGN/ORGN value: Normal, write-back, read-allocate, write-allocate.
pub const GPCCR_RGN_WB_RA_WA: u64 = 0b01;
/// SH value: Inner Shareable.
pub const GPCCR_SH_INNER: u64 = 0b11;

/// GPCCR_EL3.PPS encoding of a protected physical address size in bits
/// (4 GB .. 4 PB). The sizes that need FEAT_RME_GPC3 (46, 47, 56) are not
/// supported.
pub const fn pps_encoding(pps_bits: u8) -> Option<u64> {
    match pps_bits {
        32 => Some(0b000),
        36 => Some(0b001),
        40 => Some(0b010),
        42 => Some(0b011),
        44 => Some(0b100),
        48 => Some(0b101),
        52 => Some(0b110),
        _ => None,
    }
}

/// Decodes GPCCR_EL3.L0GPTSZ from a GPCCR_EL3 value into the number of
/// address bits one level 0 entry covers (30, 34, 36 or 39).
pub const fn l0gptsz_bits(gpccr: u64) -> Option<u8> {
    match (gpccr >> GPCCR_L0GPTSZ_SHIFT) & 0xf {
        0b0000 => Some(30),
        0b0100 => Some(34),
        0b0110 => Some(36),
        0b1001 => Some(39),
        _ => None,
    }
}

/// GPCCR_EL3 for 4 KB granules, inner-shareable write-back GPT fetches and
/// the given PPS encoding; GPC left clear (enabling ORs in [`GPCCR_GPC`]).
pub const fn gpccr_el3_value(pps: u64) -> u64 {
    (pps << GPCCR_PPS_SHIFT)
        | (GPCCR_RGN_WB_RA_WA << GPCCR_IRGN_SHIFT)
        | (GPCCR_RGN_WB_RA_WA << GPCCR_ORGN_SHIFT)
        | (GPCCR_SH_INNER << GPCCR_SH_SHIFT)
        | (0b00 << GPCCR_PGS_SHIFT)
}

/// GPTBR_EL3: BADDR, bits \[39:0\], holds bits \[51:12\] of the level 0 table.
pub const fn gptbr_el3_value(l0_base: u64) -> u64 {
    (l0_base >> 12) & ((1 << 40) - 1)
}

/// Range sizes of `TLBI RPALOS` (the SIZE field, bits \[47:44\]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum TlbiSize {
    Size4K = 0b0000,
    Size16K = 0b0001,
    Size64K = 0b0010,
    Size2M = 0b0011,
    Size32M = 0b0100,
    Size512M = 0b0101,
    Size1G = 0b0110,
    Size16G = 0b0111,
    Size64G = 0b1000,
    Size512G = 0b1001,
}

/// Xt of `TLBI RPALOS` with 4 KB PGS: SIZE in bits \[47:44\], BaseADDR\[51:12\]
/// in bits \[39:0\]. `pa` must be aligned to `size`.
pub const fn tlbi_rpalos_operand(pa: u64, size: TlbiSize) -> u64 {
    ((size as u64) << 44) | ((pa >> 12) & ((1 << 40) - 1))
}

/// Xt of `DC CIPAPA`: NS in bit \[63\], NSE in bit \[62\] naming the target PA
/// space ({NSE,NS}: Secure 00, Non-secure 01, Realm 11), PA in bits \[51:0\].
pub const fn dc_cipapa_operand(pa: u64, pas: Pas) -> u64 {
    let (nse, ns) = match pas {
        Pas::Secure => (0, 0),
        Pas::NonSecure => (0, 1),
        Pas::Realm => (1, 1),
    };
    (ns << 63) | (nse << 62) | (pa & ((1 << 52) - 1))
}

/// 4-bit GPI encoding ("GPI field encoding in GPT descriptors").
pub const fn gpi_encoding(gpi: Gpi) -> u64 {
    match gpi {
        Gpi::NoAccess => 0b0000,
        Gpi::Secure => 0b1000,
        Gpi::NonSecure => 0b1001,
        Gpi::Root => 0b1010,
        Gpi::Realm => 0b1011,
        Gpi::Any => 0b1111,
    }
}

/// Inverse of [`gpi_encoding`]; `None` for encodings this firmware never writes.
pub const fn gpi_from_encoding(value: u64) -> Option<Gpi> {
    match value & 0xf {
        0b0000 => Some(Gpi::NoAccess),
        0b1000 => Some(Gpi::Secure),
        0b1001 => Some(Gpi::NonSecure),
        0b1010 => Some(Gpi::Root),
        0b1011 => Some(Gpi::Realm),
        0b1111 => Some(Gpi::Any),
        _ => None,
    }
}

/// Level 0 descriptor type field, bits \[3:0\]: Block descriptor.
pub const L0_TYPE_BLOCK: u64 = 0b0001;
/// Level 0 descriptor type field, bits \[3:0\]: Table descriptor.
pub const L0_TYPE_TABLE: u64 = 0b0011;
/// Bits \[51:12\] of a level 0 Table descriptor: the level 1 table address.
pub const L0_TABLE_ADDR_MASK: u64 = ((1 << 52) - 1) & !0xfff;

/// Level 0 Block descriptor: GPI in bits \[7:4\], type 0b0001.
pub const fn l0_block_desc(gpi: Gpi) -> u64 {
    (gpi_encoding(gpi) << 4) | L0_TYPE_BLOCK
}

/// Level 0 Table descriptor: level 1 table address in bits \[51:12\], type 0b0011.
pub const fn l0_table_desc(l1_pa: u64) -> u64 {
    (l1_pa & L0_TABLE_ADDR_MASK) | L0_TYPE_TABLE
}

/// Level 1 Granules descriptor giving all 16 granules the same GPI.
pub const fn l1_granules_desc(gpi: Gpi) -> u64 {
    gpi_encoding(gpi) * 0x1111_1111_1111_1111
}
