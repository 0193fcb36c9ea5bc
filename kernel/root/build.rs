//! Generates the root image's linker script from the board's data.

use rampart_board::link::{ImageLayout, root_stack_size, write_script};
use std::{env, fs, path::PathBuf};

fn main() {
    // Host builds (clippy, docs) still need a script; they get qemu-virt's.
    let board = if env::var_os("CARGO_FEATURE_FVP_RDV3").is_some() {
        &rampart_board_fvp_rdv3::BOARD
    } else {
        &rampart_board_qemu_virt::BOARD
    };
    let layout = ImageLayout {
        ram_base: board.root.ram.base,
        ram_size: board.root.ram.size,
        // Root is either the reset image in flash or BL31, loaded by BL2.
        reset_at: board.root.flash().map(|f| f.flash.base),
        stack_size: root_stack_size(board),
        cpus: board.topology.cpu_count as u64,
    };
    let mut script = String::new();
    write_script(&mut script, &layout).expect("script");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    fs::write(out.join("root.x"), script).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg-bins=-Troot.x");
    println!("cargo:rustc-link-arg-bins=-Tdefmt.x");
    println!("cargo:rerun-if-changed=build.rs");
}
