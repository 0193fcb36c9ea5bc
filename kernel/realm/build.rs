//! Generates the RMM image's linker script from the board's data: the
//! image runs at the base of the board's RMM region.

use rampart_board::link::{ImageLayout, write_script};
use std::{env, fs, path::PathBuf};

include!("src/cpus.rs");

fn main() {
    // Host builds (clippy, docs) still need a script; they get qemu-virt's.
    let fvp_rdv3 = env::var_os("CARGO_FEATURE_FVP_RDV3").is_some();
    let board = if fvp_rdv3 {
        &rampart_board_fvp_rdv3::BOARD
    } else {
        &rampart_board_qemu_virt::BOARD
    };
    let layout = ImageLayout {
        ram_base: board.rmm.base,
        // The last granule is the EL3<->RMM shared page.
        ram_size: board.rmm.size - 0x1000,
        reset_at: None,
        // boot::STACK_SIZE: 60 KB of stack above a guard page.
        stack_size: 0x10000,
        cpus: rmm_max_cpus(board.topology.cpu_count, !fvp_rdv3) as u64,
    };
    let mut script = String::new();
    write_script(&mut script, &layout).expect("script");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    fs::write(out.join("realm.x"), script).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg-bins=-Trealm.x");
    println!("cargo:rustc-link-arg-bins=-Tdefmt.x");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/cpus.rs");
}
