//! The MHUv3 postbox doorbell that rings the SCP.
//!
//! An MHUv3 postbox frame starts with its control page; the postbox
//! doorbell channel windows (PDBCW) follow at 0x1000, one 0x20-byte window
//! per channel (TF-A: `struct _mhu_v3_x_pdbcw_reg_t` in
//! `drivers/arm/mhu/mhu_v3_x_private.h`, `MHU_V3_PBX_PDBCW_PAGE_OFFSET` and
//! `SENDER_REG_SET` in `include/drivers/arm/css/css_mhu_doorbell.h`).
//!
//! TF-A's RD-V3 (`plat3_rd_scmi_info` in
//! `plat/arm/board/neoverse_rd/common/nrd_bl31_setup.c`) rings doorbell
//! channel 0 of the AP-SCP secure MHU by `mhu_ring_doorbell`: read
//! PDBCW_SET, keep the bits of `db_preserve_mask` (0xFFFF_FFFE), OR in
//! `db_modify_mask` (0x1), write it back (`MHU_RING_DOORBELL`). Unlike the
//! MHUv2 path it makes no access request first.

use crate::{Doorbell, Mmio};

/// Offset of the first postbox doorbell channel window in the frame
/// (`MHU_V3_PBX_PDBCW_PAGE_OFFSET`).
pub const PDBCW_PAGE_OFFSET: usize = 0x1000;
/// Size of one doorbell channel window (`SENDER_REG_SET(ch)` steps by 0x20).
pub const PDBCW_STRIDE: usize = 0x20;

/// Window offset of PDBCW_ST, the channel's flag status (read only).
pub const PDBCW_ST: usize = 0x00;
/// Window offset of PDBCW_SET: writing 1 to a bit raises that flag
/// (`SENDER_REG_SET`'s 0xC).
pub const PDBCW_SET: usize = 0x0C;
/// Window offset of PDBCW_INT_ST, transfer-acknowledge interrupt status.
pub const PDBCW_INT_ST: usize = 0x10;
/// Window offset of PDBCW_INT_CLR.
pub const PDBCW_INT_CLR: usize = 0x14;
/// Window offset of PDBCW_INT_EN.
pub const PDBCW_INT_EN: usize = 0x18;
/// Window offset of PDBCW_CTRL.
pub const PDBCW_CTRL: usize = 0x1C;

/// Frame offset of doorbell channel `channel`'s window.
pub const fn window_offset(channel: u8) -> usize {
    PDBCW_PAGE_OFFSET + PDBCW_STRIDE * channel as usize
}

/// Frame offset of channel `channel`'s PDBCW_SET
/// (`MHU_V3_SENDER_REG_SET(channel)`).
pub const fn set_register_offset(channel: u8) -> usize {
    window_offset(channel) + PDBCW_SET
}

/// Frame offset of channel `channel`'s PDBCW_ST.
pub const fn status_register_offset(channel: u8) -> usize {
    window_offset(channel) + PDBCW_ST
}

/// One doorbell flag group of one MHUv3 postbox channel.
pub struct MhuV3Doorbell<M> {
    frame: M,
    channel: u8,
    set_mask: u32,
    preserve_mask: u32,
}

impl<M: Mmio> MhuV3Doorbell<M> {
    /// A doorbell on channel `channel` of the postbox mapped by `frame`,
    /// raising the flags in `set_mask` and re-writing the bits of
    /// `preserve_mask` read back from PDBCW_SET (TF-A's `db_modify_mask`
    /// and `db_preserve_mask`).
    pub const fn new(frame: M, channel: u8, set_mask: u32, preserve_mask: u32) -> Self {
        Self {
            frame,
            channel,
            set_mask,
            preserve_mask,
        }
    }

    /// The doorbell a board's [`crate::Config`] describes, over `frame`
    /// mapped at [`crate::Config::doorbell_frame_base`].
    pub const fn from_config(frame: M, config: &crate::Config) -> Self {
        Self::new(
            frame,
            config.doorbell_channel,
            config.doorbell_set_mask,
            config.doorbell_preserve_mask,
        )
    }

    /// The postbox frame.
    pub fn frame(&self) -> &M {
        &self.frame
    }

    /// Whether any of this doorbell's flags is still raised (the SCP has
    /// not cleared it yet).
    pub fn is_pending(&self) -> bool {
        self.frame.read32(status_register_offset(self.channel)) & self.set_mask != 0
    }
}

impl<M: Mmio> Doorbell for MhuV3Doorbell<M> {
    fn ring(&self) {
        let offset = set_register_offset(self.channel);
        let kept = self.frame.read32(offset) & self.preserve_mask;
        self.frame.write32(offset, kept | self.set_mask);
    }
}
