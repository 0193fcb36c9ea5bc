//! The boards xtask knows.

use anyhow::bail;
use rampart_board::BoardInfo;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Board {
    /// QEMU `virt` with RME: runnable.
    QemuVirt,
    /// Arm Neoverse RD-V3 FVP: build-only.
    FvpRdv3,
}

impl Board {
    /// The board's name; also the cargo feature that selects it in each firmware crate.
    pub fn name(self) -> &'static str {
        match self {
            Board::QemuVirt => "qemu-virt",
            Board::FvpRdv3 => "fvp-rdv3",
        }
    }

    /// The board's description, from its board crate.
    pub fn info(self) -> anyhow::Result<BoardInfo> {
        match self {
            Board::QemuVirt => Ok(rampart_board_qemu_virt::BOARD),
            Board::FvpRdv3 => Ok(rampart_board_fvp_rdv3::BOARD),
        }
    }

    /// Fails unless xtask can run this board on QEMU.
    pub fn ensure_runnable(self) -> anyhow::Result<()> {
        match self {
            Board::QemuVirt => Ok(()),
            other => bail!(
                "board {} is build-only: there is no emulator for it here",
                other.name()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flash::{Images, assemble};

    #[test]
    fn qemu_virt_assembles_and_fvp_is_build_only() {
        let info = Board::QemuVirt.info().unwrap();
        assert_eq!(info.name, Board::QemuVirt.name());
        let image = [0x5a_u8; 64];
        let flash = assemble(
            &info,
            &Images {
                root: &image,
                rmm: &image,
                ns: &image,
            },
        )
        .unwrap();
        assert_eq!(flash.len() as u64, info.root.flash().unwrap().flash.size);
        let fvp = Board::FvpRdv3.info().unwrap();
        assert_eq!(fvp.name, Board::FvpRdv3.name());
        let err = assemble(
            &fvp,
            &Images {
                root: &image,
                rmm: &image,
                ns: &image,
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("cargo xtask package"), "{err}");
        assert!(Board::FvpRdv3.ensure_runnable().is_err());
    }
}
